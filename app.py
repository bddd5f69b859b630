"""Hugging Face Spaces entry point: `python app.py` serves the demo at http://127.0.0.1:7860.

The port and address follow GRADIO_SERVER_PORT / GRADIO_SERVER_NAME when set (Spaces sets them).
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:  # on ZeroGPU Spaces, `spaces` must be imported before torch
    import spaces  # type: ignore[import-not-found]  # noqa: F401
except ImportError:
    pass

from app.ui import build_demo, launch  # noqa: E402  (the app/ package, not this file)

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
