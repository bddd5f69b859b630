"""The page's checkpoint pickers in one registry: each tab subscribes its own, and whatever adds a
checkpoint (a finished run, an uploaded zip) tells the registry, which updates every picker.

Gradio fixes an event's outputs when it is wired, so an event that changes checkpoints registers
itself with `on_change` and is wired by `connect()`, once every tab has subscribed its picker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app import service


@dataclass(frozen=True)
class Picker:
    """A checkpoint picker of the page and the checkpoints it lists."""

    name: str
    dropdown: gr.Dropdown
    kind: service.CheckpointKind
    selects_new: bool  # chooses a new checkpoint of its kind (the Ask picker only lists it: choosing it
    # there would load another model under the user's feet)


class CheckpointRegistry:
    """The checkpoint pickers of one page, in the order they subscribed."""

    def __init__(self) -> None:
        self.pickers: list[Picker] = []
        self._wirings: list[Callable[[list[gr.Dropdown]], object]] = []

    def subscribe(
        self, name: str, dropdown: gr.Dropdown, kind: service.CheckpointKind, selects_new: bool = True
    ) -> gr.Dropdown:
        """List `dropdown` among the pickers told of new checkpoints; returns it."""
        self.pickers.append(Picker(name, dropdown, kind, selects_new))
        return dropdown

    @property
    def names(self) -> list[str]:
        return [picker.name for picker in self.pickers]

    @property
    def dropdowns(self) -> list[gr.Dropdown]:
        return [picker.dropdown for picker in self.pickers]

    def updates(self, new: str | None = None) -> dict[str, Any]:
        """Every picker re-read from the checkpoint folders, as gr.update()s by picker name.

        `new`: the folder name of a checkpoint just added to the user directory. The pickers of its
        kind that select new checkpoints choose it; the others of its kind only list it.
        """
        found = service.all_checkpoints()
        target = (service.user_checkpoint_dir() / new).resolve() if new else None
        updates = {}
        for picker in self.pickers:
            infos = picker.kind.listed(found)
            choices = picker.kind.choices(found)
            key = next((k for info, (_, k) in zip(infos, choices, strict=True) if info.path.resolve() == target), None)
            chosen = picker.selects_new and key
            updates[picker.name] = gr.update(choices=choices, value=key) if chosen else gr.update(choices=choices)
        return updates

    def announcing(self, fn: Callable[..., tuple[tuple, str | None]]) -> Callable[..., tuple]:
        """An event function for an event that may add a checkpoint: `fn` (same arguments and
        docstring, for the API page) returns its own outputs and the new checkpoint's folder name or
        None; the event returns those outputs, then every picker's update (unchanged without one)."""

        @functools.wraps(fn)
        def event(*args: Any) -> tuple:
            outputs, new = fn(*args)
            updates = self.updates(new).values() if new else [gr.update() for _ in self.pickers]
            return (*outputs, *updates)

        return event

    def on_change(self, wire: Callable[[list[gr.Dropdown]], object]) -> None:
        """An event that changes checkpoints: `wire(dropdowns)` wires it with every picker among its
        outputs, when `connect()` is called."""
        self._wirings.append(wire)

    def connect(self) -> None:
        """Wire the events registered with `on_change` (call once every picker has subscribed)."""
        for wire in self._wirings:
            wire(self.dropdowns)


def reread(kind: service.CheckpointKind) -> Callable[[str | None], Any]:
    """An event function for a picker when the page opens: its choices re-read (checkpoints may
    have come since the app started), its value kept, else its kind's default."""

    def update(current: str | None) -> Any:
        return gr.update(choices=kind.choices(), value=current or kind.default_key())

    return update
