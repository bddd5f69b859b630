"""bAbI (Weston et al., 2015): 20 question types over short stories, 1k or 10k training questions
per task. One example per question: the story's sentences so far are its facts."""

from __future__ import annotations

import functools
import os
import random
import warnings
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from dmn.data import DataFormatError, DataNotFoundError, Example, read_lines, resolve_data_dir, tokenize
from dmn.download import Download, fetched, safe_extract
from dmn.tasks import Request, TaskFamily

BABI_TASK_NAMES = {
    1: "single supporting fact",
    2: "two supporting facts",
    3: "three supporting facts",
    4: "two argument relations",
    5: "three argument relations",
    6: "yes/no questions",
    7: "counting",
    8: "lists/sets",
    9: "simple negation",
    10: "indefinite knowledge",
    11: "basic coreference",
    12: "conjunction",
    13: "compound coreference",
    14: "time reasoning",
    15: "basic deduction",
    16: "basic induction",
    17: "positional reasoning",
    18: "size reasoning",
    19: "path finding",
    20: "agent's motivations",
}


def _line_error(path: Path, lineno: int, line: str):
    """A factory for errors that name the file, the line number and the line."""

    def error(what: str) -> DataFormatError:
        return DataFormatError(f"{path}, line {lineno}: {what}: {line[:80]!r}")

    return error


def parse_babi(path: str | os.PathLike, task: str = "") -> list[Example]:
    """Read a bAbI v1.2 file: one Example per question, its context the story's statements so far."""
    path = Path(path)
    examples: list[Example] = []
    facts: list[list[str]] = []
    fact_index: dict[int, int] = {}  # line id -> index into facts
    last_id, story = 0, -1
    for lineno, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        fail = _line_error(path, lineno, line)

        head, _, rest = line.partition(" ")
        if not head.isdigit() or not rest.strip():
            raise fail("expected '<id> <text>'")
        line_id = int(head)
        if line_id == 1:
            facts, fact_index, story = [], {}, story + 1
        elif line_id != last_id + 1:
            raise fail(f"line id {line_id} does not follow {last_id}")
        last_id = line_id
        if "\t" not in rest:
            fact_index[line_id] = len(facts)
            facts.append(tokenize(rest))
            continue
        parts = rest.split("\t")
        if len(parts) != 3:
            raise fail("a question line needs 'question<TAB>answer<TAB>supporting ids'")
        question, answer, support = parts
        answer_words = [w for w in (tokenize(a) for a in answer.split(",")) if w]
        if not tokenize(question) or not answer_words:
            raise fail("empty question or answer")
        supporting = []
        for sid in support.split():
            if not sid.isdigit() or int(sid) not in fact_index:
                raise fail(f"supporting fact {sid!r} is not an earlier statement of this story")
            supporting.append(fact_index[int(sid)])
        examples.append(
            Example(
                context=list(facts),
                question=tokenize(question),
                answer=[w for words in answer_words for w in words],
                supporting=supporting,
                task=task,
                story=story,
            )
        )
    if not examples:
        raise DataFormatError(f"{path}: no questions found (a question line is 'id question<TAB>answer<TAB>ids')")
    return examples


def babi_file(task_id: int, size: str, split: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of one bAbI file. A missing 10k training file falls back to the 1k one, with a warning."""
    if task_id not in BABI_TASK_NAMES:
        raise ValueError(f"bAbI has tasks 1-20, not {task_id}")
    if size not in ("1k", "10k"):
        raise ValueError(f"bAbI size is '1k' or '10k', not {size!r}")
    root = resolve_data_dir(data_dir)
    folder = "en" if size == "1k" else "en-10k"
    for base in (root / "babi", root / "tasks_1-20_v1-2", root):
        matches = sorted((base / folder).glob(f"qa{task_id}_*_{split}.txt"))
        if matches:
            return matches[0]
        if size == "10k" and split == "train" and (base / folder).is_dir():
            fallback = sorted((base / "en").glob(f"qa{task_id}_*_{split}.txt"))
            if fallback:
                warnings.warn(f"bAbI task {task_id}: no 10k training file, using {fallback[0]}", stacklevel=2)
                return fallback[0]
    raise DataNotFoundError(
        f"bAbI task {task_id} ({size}, {split}) not found under {root}. "
        "Run `python -m dmn download babi`, or point --data-dir / DMN_DATA_DIR at the data."
    )


def load_babi(
    task_ids: Iterable[int], size: str, split: str, data_dir: str | os.PathLike | None = None
) -> list[Example]:
    """Examples of the given bAbI tasks, each tagged with its task ("babi:3")."""
    return [
        ex
        for task_id in task_ids
        for ex in parse_babi(babi_file(task_id, size, split, data_dir), task=f"babi:{task_id}")
    ]


def parse_task(spec: str) -> list[int]:
    """'babi:all' -> [1..20]; 'babi:3' -> [3]; 'babi:1,2,3' -> [1, 2, 3]."""
    family, _, which = spec.partition(":")
    if family != "babi" or not which:
        raise ValueError(f"unknown task {spec!r}: use babi:N, babi:N,M,... or babi:all")
    if which == "all":
        return list(BABI_TASK_NAMES)
    try:
        ids = [int(t) for t in which.split(",")]
    except ValueError:
        raise ValueError(f"unknown task {spec!r}: use babi:N, babi:N,M,... or babi:all") from None
    for t in ids:
        if t not in BABI_TASK_NAMES:
            raise ValueError(f"bAbI has tasks 1-20, not {t}")
    return ids


# --------------------------------------------------------------------------------------------
# Freer phrasing, for training: what people type that bAbI's tasks do not mix

# bAbI's people, by the pronoun tasks 11 and 13 use for them
PRONOUNS = {
    **dict.fromkeys(("mary", "sandra", "julie", "jessica", "emily", "lily", "winona", "gertrude"), "she"),
    **dict.fromkeys(("john", "daniel", "fred", "bill", "jeff", "bernhard", "brian", "greg", "julius", "jason",
                     "antoine", "sumit", "yann"), "he"),
}  # fmt: skip
OPENERS = (["then"], ["afterwards"], ["after", "that"], ["following", "that"])  # task 11's own
STATES = {"is", "are"}  # "Lily is white." states, and takes no "then"
TIMELESS = {"babi:14"}  # its sentences are not told in the order things happened
_CONVERSES = [  # "the A <relation> the B" says what "the B <converse> the A" does
    (("is", "north", "of"), ("is", "south", "of")),
    (("is", "east", "of"), ("is", "west", "of")),
    (("is", "above"), ("is", "below")),
    (("is", "to", "the", "left", "of"), ("is", "to", "the", "right", "of")),
    (("fits", "inside"), ("is", "bigger", "than")),
]
CONVERSES = dict(_CONVERSES) | {converse: relation for relation, converse in _CONVERSES}
RELATION_WORDS = frozenset(word for relation in CONVERSES for word in relation)


def told_the_other_way(fact: list[str]) -> list[str] | None:
    """ "the office is north of the kitchen" -> "the kitchen is south of the office" (and so for
    east, west, above, below, to the left or right of, fits inside and bigger than); None for a
    fact not of that shape."""
    if fact[:1] != ["the"]:
        return None
    other_way = _other_way(tuple(fact))  # the same few facts recur in every epoch's stories
    return list(other_way) if other_way else None


@functools.lru_cache(maxsize=2**16)
def _other_way(fact: tuple[str, ...]) -> tuple[str, ...] | None:
    for k in range(2, len(fact)):
        for relation, converse in CONVERSES.items():
            end = k + len(relation)
            if fact[k:end] == relation and fact[end : end + 1] == ("the",) and len(fact) > end + 1:
                return ("the", *fact[end + 1 :], *converse, "the", *fact[1:k])
    return None


def rephrase(example: Example, chance: float, rng: random.Random) -> Example:
    """The example told as people tell it, each rewrite taken with probability `chance`: a
    sentence whose subject is the last sentence's says he or she instead ("Mary went to the
    kitchen. She went to the garden."), an action after the first gets an opener of task 11
    ("Then Mary went ..."), and a relation may be told the other way round ("The kitchen is south
    of the office.", `told_the_other_way`). The facts keep their meaning and their places, so the
    answer and the supporting facts stay as they were."""
    context, last_subject = [], None
    for fact in example.context:
        other_way = told_the_other_way(fact)
        if other_way is not None and rng.random() < chance:
            fact = other_way
        if example.task in TIMELESS:
            context.append(fact)
            continue
        subject = fact[0] if len(fact) > 2 and fact[1] != "and" and fact[0] in PRONOUNS else None
        if subject is not None and subject == last_subject and rng.random() < chance:
            fact = [PRONOUNS[subject], *fact[1:]]
        if subject is not None and context and fact[1] not in STATES and rng.random() < chance:
            fact = [*rng.choice(OPENERS), *fact]
        context.append(fact)
        last_subject = subject
    return replace(example, context=context)


# --------------------------------------------------------------------------------------------
# The download

BABI_URL = "https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz"

# sha256 of tasks_1-20_v1-2.tar.gz (15,719,851 bytes), as recorded for this archive by Hugging Face datasets
BABI_SHA256 = "0364ebde659f14d11bc21744516c5ec49d3d06cb692733f66680771244998898"


def download_babi(data_dir: Path, url: str = BABI_URL, sha256: str = BABI_SHA256) -> Path:
    """Fetch and unpack bAbI v1.2 into data_dir/tasks_1-20_v1-2 (skipped when already there)."""
    target = data_dir / "tasks_1-20_v1-2"
    if (target / "en").is_dir():
        return target
    safe_extract(fetched(url, data_dir / "tasks_1-20_v1-2.tar.gz", sha256), data_dir)
    return target


# --------------------------------------------------------------------------------------------
# The family

# Kumar et al. (2016), Table 1: bAbI 1k, one gate-supervised model per task, test accuracy %.
PAPER_DMN_BABI = {
    1: 100.0, 2: 98.2, 3: 95.2, 4: 100.0, 5: 99.3, 6: 100.0, 7: 96.9, 8: 96.5, 9: 100.0, 10: 97.5,
    11: 99.9, 12: 100.0, 13: 99.8, 14: 100.0, 15: 100.0, 16: 99.4, 17: 59.6, 18: 95.3, 19: 34.5, 20: 100.0,
}  # fmt: skip
# Xiong et al. (2016), DMN+: bAbI 10k, one model per task, no supporting facts, test error % (as accuracy).
PAPER_DMNPLUS_BABI_10K = {
    task: 100.0 - error
    for task, error in {
        1: 0.0, 2: 0.3, 3: 1.1, 4: 0.0, 5: 0.5, 6: 0.0, 7: 2.4, 8: 0.0, 9: 0.0, 10: 0.0,
        11: 0.0, 12: 0.0, 13: 0.0, 14: 0.2, 15: 0.0, 16: 45.3, 17: 4.2, 18: 2.1, 19: 0.0, 20: 0.0,
    }.items()
}  # fmt: skip
PAPER_COLUMNS = {"dmn": ("paper DMN %", PAPER_DMN_BABI), "dmn+ 10k": ("DMN+ 10k %", PAPER_DMNPLUS_BABI_10K)}


def task_label(task: str) -> str:
    """'babi:3' -> '3 three supporting facts' (babi:all and other lists keep their name)."""
    number = task.partition(":")[2]
    return f"{number} {BABI_TASK_NAMES[int(number)]}" if number.isdigit() and int(number) in BABI_TASK_NAMES else task


def read(request: Request) -> list[Example]:
    return load_babi(parse_task(request.task), request.size, request.split, request.data_dir)


FAMILY = TaskFamily(
    name="babi", title="bAbI", tasks="babi:N, babi:N,M,..., babi:all",
    read=read, fact_unit="sentence", answer_mode="sequence",
    learns_kinds=True, rephrase=rephrase,
    download=Download("babi", download_babi, "bAbI v1.2", "16 MB", Path("babi") / "en"),
    paper={f"babi:{task}": score for task, score in PAPER_DMN_BABI.items()},
)  # fmt: skip
