"""Stories typed as a user would: bAbI's 20 question shapes with names, places and objects the
model has never seen, and some free phrasing. Written by hand, none taken from the bAbI files:
tests/test_kinds.py measures the model on them, and Sample offers them where no bAbI data is."""

from typing import NamedTuple


class TypedStory(NamedTuple):
    task: int  # the bAbI question type it is shaped like
    story: str  # one sentence per line
    question: str
    answer: str  # as the user wrote the words; several words comma-joined as bAbI does


TYPED_STORIES = [
    TypedStory(
        1,
        "Alice went to the kitchen.\nTom went to the garden.\nAlice moved to the library.",
        "Where is Alice?",
        "library",
    ),
    TypedStory(
        1,
        "Priya travelled to the attic.\nOmar journeyed to the bathroom.\nPriya went back to the hallway.\n"
        "Omar moved to the garage.",
        "Where is Omar?",
        "garage",
    ),
    TypedStory(
        1,
        "Nina journeyed to the cellar.\nJohn travelled to the office.\nNina went to the bedroom.\n"
        "John moved to the studio.\nNina travelled to the kitchen.",
        "Where is John?",
        "studio",
    ),
    TypedStory(
        1,
        "Hugo went to the balcony.\nThen Hugo went to the garden.\nMary travelled to the office.",
        "Where is Hugo?",
        "garden",
    ),
    TypedStory(
        1,
        "Clara moved to the bedroom.\nSandra went to the library.\nAfterwards Clara moved to the porch.",
        "Where is Clara?",
        "porch",
    ),
    TypedStory(
        1,
        "Ravi went back to the office.\nSofia journeyed to the pantry.\nRavi travelled to the hallway.\n"
        "Sofia moved to the kitchen.\nRavi went to the pantry.",
        "Where is Sofia?",
        "kitchen",
    ),
    TypedStory(
        2,
        "Alice picked up the book there.\nAlice went to the library.\nTom moved to the kitchen.",
        "Where is the book?",
        "library",
    ),
    TypedStory(
        2,
        "Omar went to the garage.\nOmar grabbed the umbrella there.\nPriya travelled to the bedroom.\n"
        "Omar journeyed to the hallway.",
        "Where is the umbrella?",
        "hallway",
    ),
    TypedStory(
        2,
        "Nina got the phone there.\nNina travelled to the attic.\nNina dropped the phone.\n"
        "Nina went back to the kitchen.",
        "Where is the phone?",
        "attic",
    ),
    TypedStory(
        2,
        "Hugo took the milk there.\nHugo moved to the cellar.\nMary went to the office.\nHugo put down the milk.\n"
        "Hugo journeyed to the garden.",
        "Where is the milk?",
        "cellar",
    ),
    TypedStory(
        2,
        "Clara picked up the wallet.\nThen she went to the studio.\nDaniel moved to the bathroom.",
        "Where is the wallet?",
        "studio",
    ),
    TypedStory(
        2,
        "Ravi grabbed the football there.\nAfterwards Ravi travelled to the balcony.\nSofia went to the kitchen.\n"
        "Ravi left the football there.\nRavi moved to the hallway.",
        "Where is the football?",
        "balcony",
    ),
    TypedStory(
        2,
        "Tom got the camera there.\nTom journeyed to the lobby.\nAlice went to the garden.\nTom went to the office.",
        "Where is the camera?",
        "office",
    ),
    TypedStory(
        3,
        "Alice picked up the book.\nAlice went to the library.\nAlice travelled to the kitchen.\n"
        "Alice dropped the book.",
        "Where was the book before the kitchen?",
        "library",
    ),
    TypedStory(
        3,
        "Tom went to the attic.\nTom grabbed the umbrella there.\nTom journeyed to the garden.\n"
        "Priya moved to the office.\nTom moved to the hallway.\nTom left the umbrella there.",
        "Where was the umbrella before the hallway?",
        "garden",
    ),
    TypedStory(
        3,
        "Omar got the phone.\nOmar travelled to the cellar.\nNina went to the bathroom.\nOmar moved to the bathroom.\n"
        "Omar put down the phone.\nNina took the phone.\nNina went back to the garage.",
        "Where was the phone before the garage?",
        "bathroom",
    ),
    TypedStory(
        3,
        "Hugo journeyed to the kitchen.\nHugo took the apple there.\nHugo went to the studio.\n"
        "Mary travelled to the garden.\nHugo discarded the apple.\nHugo moved to the office.",
        "Where was the apple before the studio?",
        "kitchen",
    ),
    TypedStory(
        3,
        "Clara picked up the wallet.\nThen she went to the porch.\nAfterwards she moved to the garden.\n"
        "Clara travelled to the library.\nClara dropped the wallet.",
        "Where was the wallet before the library?",
        "garden",
    ),
    TypedStory(
        3,
        "Ravi got the football.\nRavi went to the pantry.\nSofia moved to the hallway.\n"
        "Ravi journeyed to the bedroom.\nRavi went back to the pantry.\nRavi travelled to the balcony.\n"
        "Ravi left the football.",
        "Where was the football before the balcony?",
        "pantry",
    ),
    TypedStory(
        3,
        "Alice went to the attic.\nTom travelled to the garden.\nAlice grabbed the lamp there.\n"
        "Tom picked up the milk there.\nAlice moved to the kitchen.\nTom journeyed to the office.\n"
        "Alice put down the lamp.\nTom went to the kitchen.\nTom took the lamp there.\nTom moved to the library.",
        "Where was the lamp before the library?",
        "kitchen",
    ),
    TypedStory(
        4,
        "The library is east of the kitchen.\nThe garden is east of the library.",
        "What is east of the kitchen?",
        "library",
    ),
    TypedStory(
        4,
        "The attic is north of the bedroom.\nThe bathroom is north of the attic.",
        "What is the attic north of?",
        "bedroom",
    ),
    TypedStory(
        4,
        "The cellar is south of the garage.\nThe office is south of the cellar.",
        "What is south of the garage?",
        "cellar",
    ),
    TypedStory(
        4,
        "The hallway is west of the studio.\nThe studio is west of the garden.",
        "What is the studio west of?",
        "garden",
    ),
    TypedStory(
        4,
        "The porch is to the north of the kitchen.\nThe kitchen is to the north of the garden.",
        "What is north of the garden?",
        "kitchen",
    ),
    TypedStory(
        4,
        "The balcony is west of the bedroom.\nThe pantry is east of the bedroom.",
        "What is the bedroom east of?",
        "balcony",
    ),
    TypedStory(
        4,
        "The library is south of the office.\nAnd the attic is north of the office.",
        "What is the office south of?",
        "attic",
    ),
    TypedStory(
        5,
        "Alice picked up the book there.\nAlice gave the book to Tom.\nTom went to the kitchen.",
        "What did Alice give to Tom?",
        "book",
    ),
    TypedStory(
        5,
        "Omar took the umbrella there.\nOmar handed the umbrella to Priya.\nPriya passed the umbrella to Nina.",
        "Who received the umbrella?",
        "Nina",
    ),
    TypedStory(
        5,
        "Hugo grabbed the phone there.\nHugo passed the phone to Clara.\nFred went to the garden.\n"
        "Clara gave the phone to Fred.",
        "Who gave the phone?",
        "Clara",
    ),
    TypedStory(
        5,
        "Ravi got the milk there.\nRavi gave the milk to Sofia.\nSofia went to the bedroom.\n"
        "Sofia handed the milk to Ravi.",
        "Who did Sofia give the milk to?",
        "Ravi",
    ),
    TypedStory(
        5,
        "Alice picked up the lamp there.\nTom received the lamp from Alice.",
        "Who gave the lamp to Tom?",
        "Alice",
    ),
    TypedStory(
        5,
        "Omar got the apple there.\nOmar gave Mary the apple.\nMary went back to the office.",
        "What did Omar give to Mary?",
        "apple",
    ),
    TypedStory(
        5,
        "Nina took the wallet there.\nNina handed the wallet to Bill.\nBill travelled to the kitchen.\n"
        "Bill gave the wallet to Hugo.\nHugo went to the library.",
        "Who gave the wallet to Hugo?",
        "Bill",
    ),
    TypedStory(6, "Alice went to the library.\nTom moved to the kitchen.", "Is Alice in the library?", "yes"),
    TypedStory(
        6,
        "Priya travelled to the attic.\nPriya picked up the book there.\nPriya journeyed to the garden.",
        "Is Priya in the attic?",
        "no",
    ),
    TypedStory(
        6,
        "Omar moved to the cellar.\nNina went to the bedroom.\nOmar went back to the office.",
        "Is Nina in the bedroom?",
        "yes",
    ),
    TypedStory(
        6,
        "Hugo went to the garage.\nThen he went to the hallway.\nMary got the milk there.",
        "Is Hugo in the garage?",
        "no",
    ),
    TypedStory(
        6,
        "Clara grabbed the umbrella there.\nClara journeyed to the studio.\nClara dropped the umbrella.\n"
        "Daniel travelled to the studio.",
        "Is Daniel in the studio?",
        "yes",
    ),
    TypedStory(
        6,
        "Ravi went to the pantry.\nSofia moved to the garden.\nAfterwards Ravi travelled to the kitchen.",
        "Is Ravi in the pantry?",
        "no",
    ),
    TypedStory(
        7,
        "Alice picked up the book there.\nAlice went to the library.",
        "How many objects is Alice carrying?",
        "one",
    ),
    TypedStory(
        7,
        "Tom grabbed the umbrella there.\nTom took the phone there.\nTom went to the attic.",
        "How many objects is Tom carrying?",
        "two",
    ),
    TypedStory(
        7,
        "Priya got the wallet there.\nPriya moved to the garden.\nPriya dropped the wallet.",
        "How many objects is Priya carrying?",
        "none",
    ),
    TypedStory(
        7,
        "Omar picked up the lamp there.\nOmar gave the lamp to Nina.\nNina went to the cellar.",
        "How many objects is Nina carrying?",
        "one",
    ),
    TypedStory(
        7,
        "Omar picked up the lamp there.\nOmar passed the lamp to Nina.\nNina went to the cellar.",
        "How many objects is Omar carrying?",
        "none",
    ),
    TypedStory(
        7,
        "Hugo took the milk there.\nThen he grabbed the camera there.\nHugo journeyed to the office.\n"
        "Afterwards he left the milk.",
        "How many objects is Hugo carrying?",
        "one",
    ),
    TypedStory(
        7,
        "Sofia grabbed the phone there.\nSofia picked up the football there.\nSofia went to the studio.\n"
        "Sofia got the hat there.",
        "How many objects is Sofia carrying?",
        "three",
    ),
    TypedStory(8, "Alice picked up the book there.\nAlice went to the library.", "What is Alice carrying?", "book"),
    TypedStory(
        8,
        "Tom grabbed the keys there.\nTom went to the kitchen.\nTom picked up the apple there.",
        "What is Tom carrying?",
        "keys,apple",
    ),
    TypedStory(
        8,
        "Priya got the umbrella there.\nPriya journeyed to the attic.\nPriya dropped the umbrella.",
        "What is Priya carrying?",
        "nothing",
    ),
    TypedStory(
        8,
        "Omar took the milk there.\nOmar moved to the garage.\nOmar grabbed the phone there.\nOmar discarded the milk.",
        "What is Omar carrying?",
        "phone",
    ),
    TypedStory(
        8,
        "Nina picked up the wallet.\nThen she went to the cellar.\nAfterwards she got the football there.",
        "What is Nina carrying?",
        "wallet,football",
    ),
    TypedStory(
        8,
        "Hugo went to the studio.\nHugo got the lamp there.\nMary travelled to the garden.\nHugo put down the lamp.\n"
        "Hugo went back to the hallway.",
        "What is Hugo carrying?",
        "nothing",
    ),
    TypedStory(9, "Alice is in the library.\nTom is in the kitchen.", "Is Alice in the library?", "yes"),
    TypedStory(
        9,
        "Tom is in the attic.\nPriya travelled to the garden.\nTom is no longer in the attic.",
        "Is Tom in the attic?",
        "no",
    ),
    TypedStory(9, "Omar went to the cellar.\nNina is not in the bedroom.", "Is Nina in the bedroom?", "no"),
    TypedStory(
        9,
        "Hugo journeyed to the garage.\nMary is in the office.\nHugo is no longer in the garage.",
        "Is Hugo in the garage?",
        "no",
    ),
    TypedStory(9, "Clara is not in the studio.\nThen she went to the studio.", "Is Clara in the studio?", "yes"),
    TypedStory(
        9,
        "Ravi is in the hallway.\nSofia is in the pantry.\nRavi moved to the pantry.",
        "Is Ravi in the hallway?",
        "no",
    ),
    TypedStory(10, "Alice is either in the library or the kitchen.", "Is Alice in the library?", "maybe"),
    TypedStory(10, "Tom is either in the attic or the garden.", "Is Tom in the office?", "no"),
    TypedStory(
        10,
        "Priya is either in the cellar or the school.\nPriya went to the park.",
        "Is Priya in the park?",
        "yes",
    ),
    TypedStory(
        10,
        "Omar journeyed to the cinema.\nOmar is either in the garage or the bedroom.",
        "Is Omar in the cinema?",
        "no",
    ),
    TypedStory(10, "Nina is either in the studio or in the office.", "Is Nina in the office?", "maybe"),
    TypedStory(
        10,
        "Hugo is in the school.\nMary is either in the kitchen or the pantry.",
        "Is Hugo in the school?",
        "yes",
    ),
    TypedStory(11, "Alice went to the library.\nThen she went to the garden.", "Where is Alice?", "garden"),
    TypedStory(11, "Tom journeyed to the attic.\nAfter that he moved to the kitchen.", "Where is Tom?", "kitchen"),
    TypedStory(
        11,
        "Priya travelled to the bedroom.\nFollowing that she went to the cellar.\nOmar moved to the office.\n"
        "Afterwards he journeyed to the hallway.",
        "Where is Priya?",
        "cellar",
    ),
    TypedStory(
        11,
        "Nina went back to the garage.\nAfterwards she travelled to the bathroom.\nHugo moved to the studio.\n"
        "Then he went to the garden.",
        "Where is Hugo?",
        "garden",
    ),
    TypedStory(
        11,
        "Clara went to the kitchen.\nThen she moved to the porch.\nAfter that she went back to the kitchen.",
        "Where is Clara?",
        "kitchen",
    ),
    TypedStory(11, "Ravi moved to the library and then he went to the office.", "Where is Ravi?", "office"),
    TypedStory(
        12,
        "Alice and Tom went to the library.\nTom and Mary travelled to the kitchen.",
        "Where is Alice?",
        "library",
    ),
    TypedStory(
        12,
        "Priya and Omar journeyed to the attic.\nOmar and John moved to the garden.",
        "Where is Omar?",
        "garden",
    ),
    TypedStory(
        12,
        "Nina and Hugo travelled to the cellar.\nHugo and Sandra went back to the office.\n"
        "Nina and Sandra journeyed to the bedroom.",
        "Where is Sandra?",
        "bedroom",
    ),
    TypedStory(
        12,
        "Clara and Ravi went to the studio.\nThen Clara and Daniel moved to the hallway.",
        "Where is Ravi?",
        "studio",
    ),
    TypedStory(
        12,
        "Sofia and Daniel went back to the garage.\nDaniel and Mary travelled to the bathroom.\n"
        "Sofia and Mary journeyed to the pantry.",
        "Where is Daniel?",
        "bathroom",
    ),
    TypedStory(
        12,
        "Alice went to the balcony.\nAfterwards Alice and Tom went to the garden.",
        "Where is Tom?",
        "garden",
    ),
    TypedStory(13, "Alice and Tom went to the library.\nThen they went to the kitchen.", "Where is Tom?", "kitchen"),
    TypedStory(
        13,
        "Priya and Omar moved to the attic.\nFollowing that they travelled to the garden.\n"
        "John and Mary went to the office.",
        "Where is Priya?",
        "garden",
    ),
    TypedStory(
        13,
        "Nina and Hugo journeyed to the cellar.\nAfter that they went back to the bedroom.\n"
        "Nina and Sandra travelled to the hallway.\nAfterwards they moved to the studio.",
        "Where is Hugo?",
        "bedroom",
    ),
    TypedStory(
        13,
        "Clara and Ravi went back to the garage.\nAfterwards they journeyed to the bathroom.\n"
        "Daniel and Mary went to the kitchen.\nThen they moved to the pantry.",
        "Where is Clara?",
        "bathroom",
    ),
    TypedStory(
        13,
        "Sofia and Daniel travelled to the studio.\nThey went to the garden afterwards.",
        "Where is Sofia?",
        "garden",
    ),
    TypedStory(
        13,
        "Alice and Tom went to the porch.\nThen they went to the library.\nThen Tom went to the kitchen.",
        "Where is Alice?",
        "library",
    ),
    TypedStory(
        14,
        "Yesterday Alice went to the library.\nThis morning Alice moved to the kitchen.",
        "Where was Alice before the kitchen?",
        "library",
    ),
    TypedStory(
        14,
        "Tom journeyed to the attic this morning.\nYesterday Tom went to the park.\n"
        "This afternoon Tom travelled to the school.",
        "Where was Tom before the school?",
        "attic",
    ),
    TypedStory(
        14,
        "This afternoon Priya moved to the cinema.\nThis morning Priya went to the cellar.\n"
        "Yesterday Priya journeyed to the office.\nOmar went to the kitchen yesterday.",
        "Where was Priya before the cellar?",
        "office",
    ),
    TypedStory(
        14,
        "This evening Omar travelled to the garage.\nOmar went back to the bedroom this afternoon.\n"
        "Yesterday Nina journeyed to the park.\nThis morning Omar moved to the school.",
        "Where was Omar before the garage?",
        "bedroom",
    ),
    TypedStory(
        14,
        "Yesterday Nina was in the studio.\nThis morning Nina went to the park.",
        "Where was Nina before the park?",
        "studio",
    ),
    TypedStory(
        14,
        "Hugo went to the kitchen yesterday.\nThis morning he went to the library.\n"
        "This afternoon he went to the cinema.",
        "Where was Hugo before the library?",
        "kitchen",
    ),
    TypedStory(
        14,
        "This morning Clara went to the balcony.\nYesterday Clara travelled to the school.\n"
        "This evening Clara journeyed to the office.\nThis afternoon Clara moved to the park.",
        "Where was Clara before the office?",
        "park",
    ),
    TypedStory(
        15,
        "Sheep are afraid of wolves.\nCats are afraid of mice.\nAlice is a sheep.\nTom is a cat.",
        "What is Alice afraid of?",
        "wolf",
    ),
    TypedStory(
        15,
        "Mice are afraid of cats.\nWolves are afraid of sheep.\nPriya is a mouse.\nOmar is a wolf.\n"
        "Cats are afraid of wolves.",
        "What is Omar afraid of?",
        "sheep",
    ),
    TypedStory(
        15,
        "Cats are afraid of sheep.\nSheep are afraid of mice.\nMice are afraid of wolves.\nNina is a cat.\n"
        "Hugo is a mouse.\nClara is a sheep.",
        "What is Clara afraid of?",
        "mouse",
    ),
    TypedStory(
        15,
        "Wolves are afraid of cats.\nRavi is a wolf.\nMice are afraid of sheep.\nSofia is a mouse.",
        "What is Sofia afraid of?",
        "sheep",
    ),
    TypedStory(
        15,
        "Sheep are afraid of cats.\nWolves are afraid of mice.\nAlice is a wolf and Tom is a sheep.",
        "What is Tom afraid of?",
        "cat",
    ),
    TypedStory(
        15,
        "Mice are afraid of wolves.\nCats are afraid of mice.\nEmily is a mouse.\nPriya is a cat.",
        "What is Priya afraid of?",
        "mouse",
    ),
    TypedStory(
        16,
        "Alice is a swan.\nAlice is white.\nTom is a lion.\nTom is yellow.\nPriya is a swan.",
        "What color is Priya?",
        "white",
    ),
    TypedStory(
        16,
        "Omar is a frog.\nNina is a rhino.\nOmar is green.\nNina is gray.\nHugo is a frog.",
        "What color is Hugo?",
        "green",
    ),
    TypedStory(
        16,
        "Clara is a lion.\nRavi is a swan.\nClara is white.\nSofia is a lion.\nRavi is gray.\nSofia is white.\n"
        "Lily is a swan.",
        "What color is Lily?",
        "gray",
    ),
    TypedStory(
        16,
        "Hugo is a rhino.\nHugo is yellow.\nBrian is a frog.\nBrian is gray.\nAlice is a rhino.",
        "What color is Alice?",
        "yellow",
    ),
    TypedStory(
        16,
        "Tom is a frog and Tom is white.\nPriya is a lion.\nPriya is green.\nOmar is a frog.",
        "What color is Omar?",
        "white",
    ),
    TypedStory(
        16,
        "Nina is a swan.\nGreg is a lion.\nNina is yellow.\nGreg is green.\nClara is a lion.",
        "What color is Clara?",
        "green",
    ),
    TypedStory(
        17,
        "The triangle is above the red square.\nThe red square is above the blue square.",
        "Is the triangle above the blue square?",
        "yes",
    ),
    TypedStory(
        17,
        "The red sphere is to the right of the yellow square.\nThe pink rectangle is to the right of the red sphere.",
        "Is the yellow square to the right of the pink rectangle?",
        "no",
    ),
    TypedStory(
        17,
        "The blue square is to the left of the triangle.\nThe red sphere is below the triangle.",
        "Is the blue square above the red sphere?",
        "yes",
    ),
    TypedStory(
        17,
        "The red square is below the pink rectangle.\nThe red square is to the left of the yellow square.",
        "Is the yellow square above the pink rectangle?",
        "no",
    ),
    TypedStory(
        17,
        "The triangle is to the right of the blue square.\nAnd the blue square is to the right of the red square.",
        "Is the red square to the left of the triangle?",
        "yes",
    ),
    TypedStory(
        17,
        "The yellow square is above the red sphere.\nThe pink rectangle is below the red sphere.",
        "Is the pink rectangle above the yellow square?",
        "no",
    ),
    TypedStory(
        18,
        "The crate fits inside the container.\nThe chocolate fits inside the crate.\n"
        "The suitcase is bigger than the chocolate.",
        "Does the chocolate fit in the container?",
        "yes",
    ),
    TypedStory(
        18,
        "The box is bigger than the basket.\nThe basket is bigger than the chocolate.\n"
        "The chest is bigger than the box of chocolates.",
        "Is the chocolate bigger than the box?",
        "no",
    ),
    TypedStory(
        18,
        "The suitcase fits inside the wardrobe.\nThe box fits inside the suitcase.\nThe chocolate fits inside the box.",
        "Is the wardrobe bigger than the box?",
        "yes",
    ),
    TypedStory(
        18,
        "The bag fits inside the chest.\nThe box of chocolates fits inside the bag.\n"
        "The chest is bigger than the chocolate.",
        "Does the chest fit in the box of chocolates?",
        "no",
    ),
    TypedStory(
        18,
        "The chocolate fits inside the jar.\nAnd the jar fits inside the suitcase.",
        "Is the suitcase bigger than the chocolate?",
        "yes",
    ),
    TypedStory(
        18,
        "The container is bigger than the crate.\nThe crate is bigger than the box.\n"
        "The chocolate fits inside the box.",
        "Is the box bigger than the container?",
        "no",
    ),
    TypedStory(
        19,
        "The library is north of the kitchen.\nThe garden is east of the library.\n"
        "The office is south of the kitchen.\nThe hallway is west of the kitchen.",
        "How do you go from the kitchen to the garden?",
        "n,e",
    ),
    TypedStory(
        19,
        "The attic is west of the bedroom.\nThe bathroom is south of the attic.\nThe garden is north of the bedroom.\n"
        "The kitchen is east of the bedroom.",
        "How do you go from the bathroom to the bedroom?",
        "n,e",
    ),
    TypedStory(
        19,
        "The cellar is east of the garage.\nThe office is north of the cellar.\nThe hallway is south of the garage.\n"
        "The bedroom is west of the garage.",
        "How do you go from the office to the garage?",
        "s,w",
    ),
    TypedStory(
        19,
        "The studio is south of the bathroom.\nThe bathroom is east of the garden.\n"
        "The kitchen is south of the studio.\nThe office is north of the garden.",
        "How do you go from the kitchen to the bathroom?",
        "n,n",
    ),
    TypedStory(
        19,
        "The porch is west of the library.\nThe pantry is north of the library.\nThe garden is west of the porch.\n"
        "The bedroom is east of the library.",
        "How do you get from the garden to the library?",
        "e,e",
    ),
    TypedStory(
        19,
        "The kitchen is north of the balcony.\nThe balcony is west of the cellar.\nThe attic is south of the cellar.\n"
        "The garden is west of the balcony.",
        "How do you go from the kitchen to the cellar?",
        "s,e",
    ),
    TypedStory(20, "Alice is hungry.", "Where will Alice go?", "kitchen"),
    TypedStory(20, "Tom is tired.\nPriya is bored.", "Where will Priya go?", "garden"),
    TypedStory(20, "Omar is thirsty.\nOmar went to the kitchen.", "Why did Omar go to the kitchen?", "thirsty"),
    TypedStory(
        20,
        "Nina is tired.\nHugo is hungry.\nNina travelled to the bedroom.\nNina got the pajamas there.",
        "Why did Nina get the pajamas?",
        "tired",
    ),
    TypedStory(20, "Clara is bored.\nThen she went to the garden.", "Why did Clara go to the garden?", "bored"),
    TypedStory(
        20,
        "Ravi was hungry.\nRavi journeyed to the kitchen.\nRavi grabbed the apple there.",
        "Why did Ravi get the apple?",
        "hungry",
    ),
    TypedStory(
        20,
        "Tom is hungry.\nPriya is thirsty.\nTom went to the kitchen.\nPriya went to the kitchen.",
        "Why did Priya go to the kitchen?",
        "thirsty",
    ),
]
