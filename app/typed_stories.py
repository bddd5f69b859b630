"""Stories typed as a user would: bAbI's 20 question shapes with names, places and objects the
model has never seen, and some free phrasing. Written by hand, none taken from the bAbI files:
tests/test_kinds.py measures the model on them, and Sample offers them where no bAbI data is.
The stories themselves are in typed_stories.json beside this file."""

import json
from pathlib import Path
from typing import NamedTuple


class TypedStory(NamedTuple):
    task: int  # the bAbI question type it is shaped like
    story: str  # one sentence per line
    question: str
    answer: str  # as the user wrote the words; several words comma-joined as bAbI does


TYPED_STORIES = [TypedStory(**story) for story in json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))]
