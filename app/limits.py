"""What a run and an upload may use on this server (`Limits`, from environment variables), and
`TrainError`, the message for a request the user can fix."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one run may use; None means no limit. Read from the environment by `Limits.from_env()`.

    DMN_MAX_EPOCHS          most epochs a run may ask for (more is refused)       default 256
    DMN_MAX_TRAIN_EXAMPLES  most training questions of a run (more: truncated)     default 200000
    DMN_MAX_TRAIN_SECONDS   wall time of a run; then it stops, keeping its best    default 21600 (6 h)
    DMN_MAX_UPLOAD_MB       largest uploaded bAbI file or checkpoint zip (also
                            the most a checkpoint zip may unpack to)              default 50
    A positive whole number sets a limit, 0 switches it off; anything else keeps the default.
    """

    max_epochs: int | None = 256
    max_train_examples: int | None = 200_000
    max_train_seconds: int | None = 6 * 3600
    max_upload_mb: int | None = 50

    ENV = {
        "max_epochs": "DMN_MAX_EPOCHS",
        "max_train_examples": "DMN_MAX_TRAIN_EXAMPLES",
        "max_train_seconds": "DMN_MAX_TRAIN_SECONDS",
        "max_upload_mb": "DMN_MAX_UPLOAD_MB",
    }

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        values = {}
        for key, name in cls.ENV.items():
            raw = (env.get(name) or "").strip()
            if not raw:
                continue
            try:
                number = int(raw)
            except ValueError:
                continue  # not a whole number: the default stays
            if number >= 0:
                values[key] = number or None
        return cls(**values)

    @property
    def max_upload_bytes(self) -> int | None:
        return None if self.max_upload_mb is None else self.max_upload_mb * 1024 * 1024

    def describe(self) -> str:
        """One line for the page: what this server allows."""
        parts = [
            f"at most {self.max_epochs} epochs" if self.max_epochs else "any number of epochs",
            f"{self.max_train_examples:,} training questions" if self.max_train_examples else "all questions",
            f"{format_seconds(self.max_train_seconds)} per run" if self.max_train_seconds else "no time limit",
            f"uploads up to {self.max_upload_mb} MB" if self.max_upload_mb else "uploads of any size",
        ]
        return ", ".join(parts) + "; one run at a time"


def format_seconds(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03."""
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainError(ValueError):
    """A problem the user can fix (bad settings, a bad upload, no data); the message says what."""
