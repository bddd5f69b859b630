"""Curated classroom stories, written in bAbI style, each with what to watch in the gates.

Only words the shipped checkpoint knows are used (tests/test_app.py checks them against its
vocab.json), so no warning distracts from the gates.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmn.data import BABI_TASK_NAMES


@dataclass(frozen=True)
class CuratedExample:
    task: int
    story: str  # one sentence per line
    question: str
    answer: str  # the right answer, words joined by ","
    supporting: tuple[int, ...]  # the facts needed to answer (0-based story lines), as bAbI lists them
    watch: str  # one line: what to look at in the gates

    @property
    def title(self) -> str:
        return f"Task {self.task} · {BABI_TASK_NAMES[self.task]}"

    @property
    def note(self) -> str:
        """Markdown shown when the example is picked."""
        return f"**{self.title}.** {self.watch}"


def find_example(story: str, question: str) -> CuratedExample | None:
    """The curated example with exactly this story and question, if any."""
    return next((e for e in EXAMPLES if e.story == story and e.question == question), None)


EXAMPLES: list[CuratedExample] = [
    CuratedExample(
        task=1,
        story="Mary moved to the bathroom.\nJohn went to the hallway.\nDaniel went back to the hallway.\n"
        "Sandra moved to the garden.\nJohn moved to the office.\nSandra journeyed to the bathroom.",
        question="Where is John?",
        answer="office",
        supporting=(4,),
        watch="John moves twice: the gates should pick his latest move (fact 5, the office), "
        "not the older fact 2. One pass is enough, so later passes may stay on the same fact.",
    ),
    CuratedExample(
        task=2,
        story="John went to the kitchen.\nMary travelled to the garden.\nJohn picked up the football.\n"
        "Daniel went to the office.\nJohn journeyed to the bedroom.\nMary went to the hallway.",
        question="Where is the football?",
        answer="bedroom",
        supporting=(2, 4),
        watch="Pass 1 finds who has the football (fact 3: John); pass 2 moves to where John went next "
        "(fact 5). The question never names John: the memory after pass 1 does.",
    ),
    CuratedExample(
        task=3,
        story="Mary went to the kitchen.\nMary picked up the apple.\nMary travelled to the office.\n"
        "Mary went to the bathroom.\nJohn went to the garden.\nMary dropped the apple.",
        question="Where was the apple before the bathroom?",
        answer="office",
        supporting=(5, 3, 2),
        watch="Three facts, read backwards in time: the apple was dropped (6) in the bathroom (4), "
        "and before that Mary carried it to the office (3). Watch each pass step one fact further back.",
    ),
    CuratedExample(
        task=6,
        story="Sandra went to the garden.\nDaniel journeyed to the kitchen.\nSandra moved to the office.",
        question="Is Sandra in the garden?",
        answer="no",
        supporting=(2,),
        watch="The word 'garden' is in fact 1, but pass 1 should go to Sandra's latest move "
        "(fact 3, the office); a later pass may check fact 1 too. The answer module turns that into 'no'.",
    ),
    CuratedExample(
        task=8,
        story="Daniel picked up the football.\nDaniel went to the kitchen.\nMary went to the garden.\n"
        "Daniel took the milk there.",
        question="What is Daniel carrying?",
        answer="football,milk",
        supporting=(0, 3),
        watch="A two-word answer: the passes visit both things Daniel picked up (facts 1 and 4), "
        "and the answer module writes one word per step.",
    ),
    CuratedExample(
        task=14,
        story="Yesterday Julie went to the park.\nThis morning Julie travelled to the school.\n"
        "Yesterday Mary moved to the kitchen.\nThis afternoon Julie journeyed to the office.",
        question="Where was Julie before the school?",
        answer="park",
        supporting=(1, 0),
        watch="Time words, not story order, decide here: watch the gates find the school (fact 2), "
        "then the 'yesterday' fact about Julie (fact 1), skipping Mary's.",
    ),
    CuratedExample(
        task=15,
        story="Mice are afraid of wolves.\nCats are afraid of sheep.\nGertrude is a cat.\n"
        "Wolves are afraid of cats.\nSheep are afraid of mice.\nWinona is a mouse.",
        question="What is Winona afraid of?",
        answer="wolf",
        supporting=(5, 0),
        watch="Deduction: pass 1 finds what Winona is (fact 6, a mouse), pass 2 what mice fear (fact 1). "
        "The facts about other animals should stay pale.",
    ),
    CuratedExample(
        task=16,
        story="Lily is a frog.\nBernhard is a swan.\nLily is white.\nGreg is a frog.\nBernhard is green.",
        question="What color is Greg?",
        answer="white",
        supporting=(3, 0, 2),
        watch="Induction over three passes: Greg is a frog (4), Lily is a frog too (1), and Lily is "
        "white (3). Watch the star move 4, then 1, then 3.",
    ),
    CuratedExample(
        task=19,
        story="The office is east of the hallway.\nThe kitchen is north of the office.\n"
        "The garden is west of the bedroom.\nThe office is west of the garden.\n"
        "The bathroom is north of the garden.",
        question="How do you go from the kitchen to the garden?",
        answer="s,e",
        supporting=(1, 3),
        watch="Path finding, which the paper's DMN fails (34.5%): pass 1 finds where the kitchen leads "
        "(fact 2: go south to the office), pass 2 the way on (fact 4: east to the garden). Finding the facts "
        "is learnt early; turning them into directions took the shipped model many more epochs.",
    ),
]
