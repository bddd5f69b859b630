"""Recipes: the steps that make a checkpoint, as a JSON file (configs/NAME.json), run by
`python -m dmn train --config configs/NAME.json`.

    {"checkpoint": "checkpoints/sst-fine", "about": "...",
     "steps": [{"name": "sst-fine-seed0", "train": {...RunSpec...}}, ...,
               {"name": "sst-fine", "ensemble": {...EnsembleSpec...}}]}

(or, for one model per task, a last step {"name": ..., "collection": {...CollectionSpec...}}).

Every step writes to its own folder (`runs/NAME`), the last one to the recipe's checkpoint; a
step's `init_from`, an ensemble's and a collection's `members` may name earlier steps. A step
whose folder already holds a finished checkpoint made with the same settings is not run again, so
a recipe that stops goes on where it stopped. A checkpoint's own config.json is a one-step recipe
of its run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from dmn.checkpoint import COLLECTION_FILE
from dmn.settings import SETTINGS_KEY, CollectionSpec, EnsembleSpec, RunSpec, Settings

KINDS = {"train": RunSpec, "ensemble": EnsembleSpec, "collection": CollectionSpec}
StepSettings = RunSpec | EnsembleSpec | CollectionSpec


@dataclass
class Step:
    name: str
    settings: StepSettings

    @property
    def kind(self) -> str:
        return next(kind for kind, settings in KINDS.items() if isinstance(self.settings, settings))


@dataclass
class Recipe:
    checkpoint: str  # where the last step's checkpoint goes (relative to the working folder)
    steps: list[Step]
    about: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recipe:
        """A recipe file, or a checkpoint's config.json (one step: its run); ValueError if neither."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read the recipe {path}: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} is not a recipe: a JSON object with 'steps' was expected")
        if "steps" not in data:
            return cls._of_checkpoint(data, path)
        steps = [_step(step, path) for step in data["steps"]]
        names = [step.name for step in steps]
        if not steps or len(set(names)) != len(names):
            raise ValueError(f"{path}: a recipe has at least one step, each with its own name")
        return cls(str(data.get("checkpoint") or names[-1]), steps, str(data.get("about", "")))

    @classmethod
    def _of_checkpoint(cls, config: dict, path: Path) -> Recipe:
        if SETTINGS_KEY not in config:
            command = config.get("command")
            made = f"; it was made with: {command}" if command else ""
            raise ValueError(f"{path} records no settings (made before they were recorded){made}")
        kind = EnsembleSpec if "members" in config else RunSpec
        return cls(path.parent.name, [Step(path.parent.name, kind.from_dict(config[SETTINGS_KEY]))])

    def folders(self, work_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> dict[str, Path]:
        """Where each step writes: work_dir/NAME, the last step to `out` or the recipe's checkpoint."""
        folders = {step.name: Path(work_dir) / step.name for step in self.steps}
        folders[self.steps[-1].name] = Path(out or self.checkpoint)
        return folders

    def resolved(self, step: Step, folders: dict[str, Path]) -> StepSettings:
        """The step's settings with the names of earlier steps replaced by their folders."""
        earlier = {s.name: str(folders[s.name]) for s in self.steps[: self.steps.index(step)]}
        settings = step.settings
        if isinstance(settings, RunSpec):
            return replace(settings, init_from=earlier.get(settings.init_from, settings.init_from))
        if isinstance(settings, CollectionSpec):
            return replace(settings, members={task: earlier.get(m, m) for task, m in settings.members.items()})
        return replace(settings, members=[earlier.get(m, m) for m in settings.members])


def _step(data: object, path: Path) -> Step:
    if not isinstance(data, dict) or "name" not in data or len(set(data) & set(KINDS)) != 1:
        raise ValueError(f"{path}: each step is {{'name': ..., one of {', '.join(KINDS)}: {{settings}}}}, not {data!r}")
    (kind,) = set(data) & set(KINDS)
    unknown = set(data) - {"name", kind}
    if unknown:
        raise ValueError(f"{path}: step {data['name']!r} has unknown keys {sorted(unknown)}")
    return Step(str(data["name"]), KINDS[kind].from_dict(data[kind]))


def finished_with(folder: Path, settings: Settings) -> bool:
    """Whether `folder` holds a finished checkpoint (or collection) made with exactly these settings
    (a setting added since it was made counts as its default, as it was then)."""
    config_file = COLLECTION_FILE if isinstance(settings, CollectionSpec) else "config.json"
    try:
        config = json.loads((folder / config_file).read_text(encoding="utf-8"))
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        made_with = type(settings).from_dict(config.get(SETTINGS_KEY))
    except (OSError, ValueError):  # JSONDecodeError is a ValueError
        return False
    return made_with == settings and metrics.get("status") != "training"
