"""Write the bAbI test stories that the app's Sample button offers without a data folder.

    python scripts/make_babi_samples.py [--data-dir ../shared/data] [--questions 25] [--max-facts 30]

For each task, the test file's first stories in file order, each cut after its last question that
needs at most --max-facts statements (a classroom reads short stories), until --questions questions
are taken. The lines are bAbI's own (v1.2, 1k test files, CC BY 3.0; see app/babi_samples/README.md),
so the files are read by the same `parse_babi` as the full test sets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmn.data import BABI_TASK_NAMES, babi_file  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "app" / "babi_samples" / "en"  # laid out as bAbI's archive


def stories(lines: list[str]) -> list[list[str]]:
    """A bAbI file's lines, story by story (a line id of 1 starts a story)."""
    found: list[list[str]] = []
    for line in lines:
        if line.split(" ", 1)[0] == "1":
            found.append([])
        found[-1].append(line)
    return found


def short_prefix(story: list[str], max_facts: int) -> list[str]:
    """The story up to its last question that follows at most max_facts statements (empty if none)."""
    facts, end = 0, 0
    for i, line in enumerate(story):
        if "\t" not in line:
            facts += 1
        elif facts <= max_facts:
            end = i + 1
    return story[:end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--max-facts", type=int, default=30)
    args = parser.parse_args()
    for task in BABI_TASK_NAMES:
        source = babi_file(task, "1k", "test", args.data_dir)
        kept: list[str] = []
        for story in stories(source.read_text(encoding="utf-8").splitlines()):
            kept += short_prefix(story, args.max_facts)
            if sum("\t" in line for line in kept) >= args.questions:
                break
        (OUT / source.name).write_text("\n".join(kept) + "\n", encoding="utf-8")
        print(f"{source.name}: {sum(chr(9) in line for line in kept)} questions, {len(kept)} lines")


if __name__ == "__main__":
    main()
