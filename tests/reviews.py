"""A small aclImdb-shaped folder of learnable reviews, for the IMDB tests and screenshots."""

from __future__ import annotations

import random
from pathlib import Path

FILLER = (
    "the movie film plot story actors acting scenes director script camera music ending "
    "characters was is a an and of to in it this that with for as but on at by"
).split()
POSITIVE = ["wonderful", "brilliant", "loved", "superb", "delightful"]
NEGATIVE = ["awful", "terrible", "boring", "dreadful", "worst"]


def write_aclimdb(root: Path, per_label: dict[str, int], seed: int = 0) -> Path:
    """An `aclImdb/` folder as the Stanford archive lays it out: `split/pos|neg/ID_RATING.txt`.

    Positive reviews hold a few words of `POSITIVE` among filler, negative ones of
    `NEGATIVE`, and every review ends in accented letters, which the subword vocabulary
    spells with byte tokens.
    """
    rng = random.Random(seed)
    for split, count in per_label.items():
        for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
            folder = Path(root) / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for number in range(count):
                body = [rng.choice(FILLER) for _ in range(rng.randint(15, 60))]
                for _ in range(rng.randint(2, 4)):
                    body.insert(rng.randrange(len(body) + 1), rng.choice(words))
                text = " ".join(body).capitalize() + ". Café, naïve!<br /><br />"
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                (folder / f"{number}_{rating}.txt").write_text(text, encoding="utf-8")
    return Path(root) / "aclImdb"
