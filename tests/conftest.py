import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The real datasets: $DMN_DATA_DIR, else ../shared/data beside the repository."""
    for candidate in (os.environ.get("DMN_DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "babi" / "en").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real bAbI data not found: set DMN_DATA_DIR or put it in ../shared/data")
    return path
