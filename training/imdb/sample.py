"""Generated reviews that behave like IMDB's: `projector-train imdb --sample`, the tests and benchmarks.

Nothing here is IMDB: the reviews are made up, word by word, from the settings below. They
let `projector-train imdb --sample` show the whole pipeline without downloading anything,
and the benchmarks measure accuracy where IMDB cannot be downloaded. numpy only: no
TensorFlow.

`tests/reviews.py` writes reviews that any model separates perfectly (a few strong words);
on them no model overfits and no choice of epoch, learning rate or averaging matters. Real
IMDB reviews are different, and these follow them:

- **Many weak cues, a few strong ones.** About 90 real positive and 90 negative sentiment
  words ("masterpiece", "waste", "7/10" ...) and 1,200 invented content words that are each
  only somewhat more likely in one class; everything else (a Zipf vocabulary of 30,000 made-up
  words built from syllables and suffixes, plus IMDB's common English words) is neutral.
- **Cues that mislead**: a cue agrees with the review's label only with a per-review
  probability (near 1/2 for lukewarm reviews); negation ("not great", "never boring")
  flips what the cue word says; mixed reviews praise, then say "but" and pan (or the
  reverse); sarcastic reviews say the opposite of their rating; and a few percent of the
  reviews carry the other class's text (label noise).
- **Movies**: reviews are about movies, each with its own names (some accented) and genre
  words, and a quality that makes its reviews lean one way; the test split reviews other
  movies than the train split, as in the Stanford archive. Memorising a movie's names helps
  on its other training reviews, not on the test split: this is what overfits.
- **IMDB's shape**: log-normal lengths (median about 170 words, mean about 225, 10 to
  2,500; 30 MB of text for 25,000 reviews, where the archive's training split has 33 MB;
  about 235 subword tokens at the median, 315 on average), sentences with capitals, commas,
  "!", "...", paragraphs as `<br /><br />`, apostrophes, ratings such as "3/10", and typos
  (1 word in 100), so that the subword vocabulary splits rare words and spells accented
  names with byte tokens.

Generation is vectorised with numpy and deterministic by seed: 50,000 reviews take a few
seconds. `corpus_reviews` gives texts and labels in memory; `write_realistic_aclimdb` writes
them as the Stanford archive's `aclImdb/` folder for `projector-train imdb --aclimdb`.

Calibration (`benchmarks/imdb_accuracy.py`, 25,000 + 25,000 reviews): our masked-average
model peaks at about 0.88 test accuracy in epochs 1-3 and falls to about 0.83 by epoch 10
while its training accuracy climbs to 0.96, its validation loss lowest at epoch 2, as on
the real reviews (0.878 at epochs 1-3, 0.850 at 10, 0.986); the notebook's own model ends
near 0.88. Naive Bayes on words reaches about 0.88 on the test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# IMDB's most frequent words, in about their order of frequency; neutral.
COMMON = (
    "the a and of to is in it i this that was as with for movie but film on not you are his have he be "
    "one all at by an they who so from like her or just about it's out has if some there what can more "
    "when very up no time even she my would which only story really see their had we were me than much "
    "well get been will do people also other into because first how him most don't made its then make "
    "way them too could any movies after think characters character watch films two many seen being "
    "acting plot never little where life did show know does ever here man your still end these say "
    "scene while why scenes go such something through should back those real watching now thing "
    "doesn't actors though years didn't old another before work actually nothing makes look director "
    "find going same lot new every few again part cast down us world things want pretty young seems "
    "around got take however fact big enough long thought series both between may give original own "
    "right without must always times point gets role saw almost guy whole come least music done script "
    "minutes far anything since bit feel might probably am kind woman away yet last tv girl rather "
    "sure anyone making found day each played screen our although course having trying "
    "goes looks especially set believe comes different hard place ending shows john maybe everything "
    "money sense three dvd put book once audience main everyone special reason watched plays seem "
    "together later actor instead said takes effects half let seeing version night american job "
    "himself left house high father star mind shot simply wife help less completely else rest year "
    "death second budget home kids along men read dead used try until line given short use friends "
    "camera family need either hollywood production black fan tell couple start mean truly "
    "women son remember others full stars itself episode head keep getting wonder school"
).split()

# Real sentiment words, strong then medium, as IMDB reviewers use them.
POSITIVE_STRONG = (
    "excellent wonderful masterpiece superb brilliant outstanding perfect amazing 10/10 9/10 "
    "8/10 flawless gem breathtaking stunning finest magnificent touching beautifully "
    "unforgettable highly favorite loved captivating"
).split()
POSITIVE_MEDIUM = (
    "good great best beautiful nice fun enjoyed enjoyable fantastic fun recommend powerful moving strong "
    "solid charming delightful funniest wonderfully brilliantly hilarious heartwarming "
    "entertaining memorable refreshing clever subtle impressive classic love loves lovely "
    "today perfectly definitely incredible tears fascinating rare superbly greatest 7/10 "
    "surprisingly masterful haunting gripping sweet realistic underrated terrific pleasure "
    "compelling excellently unique favourite fine deserves appreciate splendid remarkable "
    "thoughtful riveting witty intelligent genuine honest tender inspiring bravo treasure"
).split()
NEGATIVE_STRONG = (
    "worst awful waste terrible horrible pathetic crap garbage 1/10 2/10 3/10 unwatchable "
    "dreadful laughable atrocious pointless lame stupid redeeming embarrassing insult "
    "mess avoid rubbish"
).split()
NEGATIVE_MEDIUM = (
    "bad boring poor poorly worse dull badly disappointing disappointment annoying ridiculous "
    "cheap mediocre weak unfunny forgettable predictable bland tedious silly wasted "
    "unconvincing sucks sucked excuse supposed nonsense script-wise wooden clichéd clichés "
    "painful amateurish horribly miscast overrated incoherent unbelievable plodding stinker "
    "mindless tiresome slow lousy awfully senseless 4/10 junk shallow trite inept sloppy "
    "bored idiotic dumb uninspired unpleasant fails failed lacks hated hate irritating "
    "yawn cardboard pretentious"
).split()
NEGATORS = ("not", "never", "hardly", "isn't", "wasn't", "no", "not really", "far from")
CONTRASTS = ("but", "however", "although", "yet", "but then")
SARCASM = ("oh yes", "sure", "so-called", "what a", "yeah right")
GENRES = ("horror", "comedy", "drama", "documentary", "action", "romance", "thriller", "western", "musical", "war")
# How a genre's reviews lean: horror and action a little negative, documentaries positive.
GENRE_LEAN = (-0.45, -0.1, 0.15, 0.5, -0.25, 0.0, -0.05, 0.2, 0.1, 0.35)

_ONSETS = "b c d f g h j k l m n p r s t v w z b d l m p r s t br cr dr fl gr pl pr sh st th tr ch sp sl bl cl".split()
_VOWELS = "a e i o u a e i o a e i o ai ea ou oo ie ay".split()
_CODAS = ["", "", "", "", "", "n", "r", "l", "s", "t", "m", "nd", "st", "ck", "ng", "rt", "ll", "x"]
_SUFFIXES = ["", "", "", "", "", "", "s", "s", "ed", "ing", "ly", "er", "ion", "ness", "ful", "able", "ment"]
_NAME_VOWELS = "a e i o u a e i o y é ö á ña ë í".split()
_NAME_ENDINGS = ["", "", "son", "ton", "ley", "ez", "ard", "ini", "berg", "ski", "elle", "a", "o"]


@dataclass(frozen=True)
class CorpusSettings:
    """The knobs of `corpus_reviews`, as calibrated (see `benchmarks/imdb_accuracy.py`)."""

    vocabulary: int = 20_000  # invented content words
    zipf_exponent: float = 1.25  # word frequencies: common words first, then content words
    word_lean: float = 0.4  # spread of the content words' log odds positive/negative
    common_lean: float = 0.2  # the same for IMDB's common words
    weak_cues: int = 600  # invented sentiment words per class
    cue_rate: float = 0.06  # share of words that are sentiment words
    cue_zipf: float = 1.1  # how much the first sentiment words of each list dominate it
    agreement: float = 0.84  # mean chance that a sentiment word agrees with the review's label
    lukewarm: float = 0.08  # share of reviews whose words barely lean (near a coin toss)
    negation: float = 0.2  # share of sentiment words said through a negator ("not great")
    mixed: float = 0.12  # reviews that praise then pan (or the reverse) around "but"
    sarcastic: float = 0.025  # reviews whose words say the opposite of their rating
    label_noise: float = 0.025  # reviews whose text is the other class's
    median_words: float = 165.0  # log-normal lengths: mean about 225 words, 1,300 characters
    length_sigma: float = 0.75
    min_words: int = 10
    max_words: int = 2_500
    typo_rate: float = 0.01
    name_rate: float = 0.02  # words that are the movie's names
    genre_rate: float = 0.02  # words from the movie's genre vocabulary
    reviews_per_movie: float = 12.0
    movie_lean: float = 0.6  # how strongly a movie's quality sets its reviews' labels


def _made_up_words(rng: np.random.Generator, count: int, exclude: set[str]) -> list[str]:
    """`count` distinct pronounceable lowercase words, 1-3 syllables and a suffix, shortest
    first give or take a little (frequent words are short)."""
    words: list[str] = []
    seen = set(exclude)
    while len(words) < count:
        n = 2 * (count - len(words)) + 100
        syllables = rng.choice([1, 2, 3], size=n, p=[0.35, 0.5, 0.15])
        parts = []
        for k in range(3):
            part = np.char.add(np.char.add(rng.choice(_ONSETS, n), rng.choice(_VOWELS, n)), rng.choice(_CODAS, n))
            parts.append(np.where(syllables > k, part, ""))
        made = np.char.add(np.char.add(np.char.add(parts[0], parts[1]), parts[2]), rng.choice(_SUFFIXES, n))
        for word in made.tolist():
            if len(word) > 2 and word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == count:
                    break
    order = np.argsort(np.array([len(word) for word in words]) + rng.normal(0, 2.0, count), kind="stable")
    return [words[i] for i in order]


def _names(rng: np.random.Generator, count: int) -> list[str]:
    """Capitalised made-up names, about one in six with an accented letter."""
    n = count
    first = np.char.add(rng.choice(_ONSETS, n), rng.choice(_NAME_VOWELS, n, p=_name_vowel_p()))
    second = np.char.add(rng.choice(_ONSETS + ["", "r", "l"], n), rng.choice(_NAME_VOWELS, n, p=_name_vowel_p()))
    names = np.char.add(np.char.add(np.char.add(first, second), rng.choice(_CODAS, n)), rng.choice(_NAME_ENDINGS, n))
    return [name.capitalize() for name in names.tolist()]


def _name_vowel_p() -> np.ndarray:
    weights = np.array([5, 5, 5, 5, 3, 5, 5, 5, 5, 2, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3])
    return weights / weights.sum()


def _zipf(count: int, exponent: float = 1.05, offset: float = 2.7) -> np.ndarray:
    weights = 1.0 / (np.arange(count) + offset) ** exponent
    return weights / weights.sum()


def _sample(rng: np.random.Generator, p: np.ndarray, size) -> np.ndarray:
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(size)), len(p) - 1)


def _typo(word: str, kind: int, at: float) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = 1 + int(at * (len(word) - 2))
    if kind == 0:  # a letter dropped
        return word[:i] + word[i + 1 :]
    if kind == 1:  # two letters swapped
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]  # a letter doubled


class _Vocabulary:
    """The word table shared by both splits: common, content, cue, genre and name words."""

    def __init__(self, settings: CorpusSettings, seed: int):
        rng = np.random.default_rng([seed, 1])
        real = set(COMMON) | set(POSITIVE_STRONG + POSITIVE_MEDIUM + NEGATIVE_STRONG + NEGATIVE_MEDIUM)
        made = _made_up_words(rng, settings.vocabulary + 2 * settings.weak_cues, real)
        content = made[: settings.vocabulary]
        weak_positive = made[settings.vocabulary : settings.vocabulary + settings.weak_cues]
        weak_negative = made[settings.vocabulary + settings.weak_cues :]
        # One table of words; neutral text is drawn from common + content words by Zipf,
        # common words first (the most frequent), content words after in random order.
        self.words = list(COMMON) + content + weak_positive + weak_negative
        base = _zipf(len(COMMON) + len(content), settings.zipf_exponent)
        # Every word leans a little: its log odds of appearing in a positive rather than a
        # negative review, small for IMDB's common words, larger for the content words.
        lean = np.concatenate([rng.normal(0, settings.common_lean, len(COMMON)), rng.normal(0, settings.word_lean, len(content))])
        self.word_p = {value: base * np.exp(value * lean / 2) for value in (+1, -1)}
        self.word_p = {value: p / p.sum() for value, p in self.word_p.items()}
        index = {word: i for i, word in enumerate(self.words)}

        def add(words):
            ids = []
            for word in words:
                if word not in index:
                    index[word] = len(self.words)
                    self.words.append(word)
                ids.append(index[word])
            return np.array(ids)

        # Cues by polarity: strong, medium, weak, each list Zipf-weighted within.
        self.cues = {
            +1: [add(POSITIVE_STRONG), add(POSITIVE_MEDIUM), add(weak_positive)],
            -1: [add(NEGATIVE_STRONG), add(NEGATIVE_MEDIUM), add(weak_negative)],
        }
        self.negators = add(NEGATORS)
        self.contrasts = add(CONTRASTS)
        self.sarcasm = add(SARCASM)
        # Each genre: its name and 40 content words of middling frequency used mostly in it.
        genre_words = rng.choice(np.arange(len(COMMON) + 500, len(COMMON) + 8000), size=(len(GENRES), 40), replace=False)
        self.genres = [np.concatenate([add([genre]), words]) for genre, words in zip(GENRES, genre_words)]

    def add_names(self, rng: np.random.Generator, count: int) -> np.ndarray:
        start = len(self.words)
        self.words.extend(_names(rng, count))
        return np.arange(start, start + count)


def corpus_reviews(
    count: int, *, seed: int = 0, split: str = "train", settings: CorpusSettings = CorpusSettings()
) -> tuple[list[str], np.ndarray]:
    """`count` reviews (half positive) and their labels (1 positive, 0 negative).

    The splits "train" and "test" of one seed share the vocabulary and its cues but review
    different movies, as the Stanford archive's do. Reviews come in random order.
    """
    texts, labels, _ = _generate(count, seed, split, settings)
    return texts, labels


def _generate(count: int, seed: int, split: str, s: CorpusSettings) -> tuple[list[str], np.ndarray, np.ndarray]:
    vocab = _Vocabulary(s, seed)
    rng = np.random.default_rng([seed, 2 if split == "train" else 3])
    labels = (np.arange(count) % 2).astype(np.int64)
    rng.shuffle(labels)
    sign = 2 * labels - 1

    # Movies: names, a genre, a quality; reviews lean towards their movie's quality.
    movies = max(1, int(round(count / s.reviews_per_movie)))
    names = vocab.add_names(rng, movies * 5).reshape(movies, 5)
    genre = rng.integers(0, len(GENRES), size=movies)
    quality = np.tanh(rng.normal(size=movies) + np.array(GENRE_LEAN)[genre])  # -1 .. 1
    # Each review's movie, drawn with probability growing with how its quality fits the label.
    movie = np.empty(count, dtype=np.int64)
    for value in (+1, -1):
        affinity = np.exp(s.movie_lean * value * quality)
        movie[sign == value] = _sample(rng, affinity / affinity.sum(), int((sign == value).sum()))

    # Ratings as in the archive's file names: 1-4 negative, 7-10 positive; extremes more certain.
    rating = np.where(labels == 1, rng.choice([7, 8, 9, 10], count, p=[0.25, 0.25, 0.2, 0.3]),
                      rng.choice([1, 2, 3, 4], count, p=[0.35, 0.2, 0.2, 0.25]))
    extremity = np.where(labels == 1, rating - 7, 4 - rating) / 3.0  # 0 .. 1
    agreement = np.clip(s.agreement + 0.12 * (extremity - 0.5) + rng.normal(0, 0.08, count), 0.5, 0.98)
    lukewarm = rng.random(count) < s.lukewarm
    agreement[lukewarm] = rng.uniform(0.45, 0.6, lukewarm.sum())
    # Whose words the text speaks: the label's, unless sarcastic or mislabelled.
    voice = sign * np.where(rng.random(count) < s.sarcastic + s.label_noise, -1, 1)
    mixed = rng.random(count) < s.mixed

    lengths = np.clip(np.round(rng.lognormal(np.log(s.median_words), s.length_sigma, count)), s.min_words, s.max_words)
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    review = np.repeat(np.arange(count), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(total) - starts[review]

    # Words: neutral by Zipf, then names, genre words and cues in their places.
    # Lukewarm reviews draw each word from either class's words.
    leaning = np.where(lukewarm[review], np.where(rng.random(total) < 0.5, 1, -1), voice[review])
    words = np.empty(total, dtype=np.int64)
    for value in (+1, -1):
        chosen = leaning == value
        words[chosen] = _sample(rng, vocab.word_p[value], int(chosen.sum()))
    kind = rng.random(total)
    is_name = kind < s.name_rate
    words[is_name] = names[movie[review[is_name]], _sample(rng, np.array([0.35, 0.25, 0.2, 0.12, 0.08]), is_name.sum())]
    is_genre = (kind >= s.name_rate) & (kind < s.name_rate + s.genre_rate)
    genre_table = np.stack(vocab.genres)
    words[is_genre] = genre_table[genre[movie[review[is_genre]]], _sample(rng, _zipf(genre_table.shape[1]), is_genre.sum())]
    is_cue = (kind >= s.name_rate + s.genre_rate) & (kind < s.name_rate + s.genre_rate + s.cue_rate) & (position > 0)
    cue = np.flatnonzero(is_cue)
    cue_review = review[cue]
    says = voice[cue_review].copy()
    switch = (lengths * rng.uniform(0.3, 0.6, count)).astype(np.int64)
    before_switch = mixed[cue_review] & (position[cue] < switch[cue_review])
    says[before_switch] *= -1
    agrees = rng.random(len(cue)) < agreement[cue_review]
    says[~agrees] *= -1
    negated = rng.random(len(cue)) < s.negation * np.where(voice[cue_review] < 0, 1.4, 0.6)
    polarity = np.where(negated, -says, says)  # "not great" says negative with a positive word
    # Words that agree with the voice are often strong; slips and negated ones mostly weak.
    strength_p = np.where((says == voice[cue_review])[:, None] & ~negated[:, None],
                          [0.22, 0.38, 0.40], [0.04, 0.30, 0.66])
    strength = (rng.random(len(cue))[:, None] > np.cumsum(strength_p, axis=1)).sum(axis=1)
    for value in (+1, -1):
        for level in range(3):
            chosen = (polarity == value) & (strength == level)
            table = vocab.cues[value][level]
            words[cue[chosen]] = table[_sample(rng, _zipf(len(table), s.cue_zipf, 1.5), chosen.sum())]
    words[cue[negated] - 1] = vocab.negators[_sample(rng, _zipf(len(vocab.negators), 1.0, 1.0), negated.sum())]
    # The turn of a mixed review, and sarcasm's markers.
    turn = starts[mixed] + switch[mixed]
    words[turn] = vocab.contrasts[rng.integers(0, len(vocab.contrasts), mixed.sum())]
    sarcastic = np.flatnonzero((voice != sign) & (rng.random(count) < 0.6))
    marks = starts[sarcastic] + (rng.random(len(sarcastic)) * lengths[sarcastic]).astype(np.int64)
    words[marks] = vocab.sarcasm[rng.integers(0, len(vocab.sarcasm), len(sarcastic))]

    # Punctuation after words: sentence ends (with paragraphs), commas.
    after = np.full(total, -1, dtype=np.int64)
    roll = rng.random(total)
    ends = roll < 1 / 14
    after[ends] = _sample(rng, np.array([0.68, 0.09, 0.05, 0.08, 0.1]), ends.sum())  # . ! ? ... <br />
    after[(roll >= 1 / 14) & (roll < 1 / 14 + 1 / 13)] = 5  # ,
    last = starts + lengths - 1
    after[last] = np.where(rng.random(count) < 0.85, 0, 1)
    punctuation = [".", "!", "?", "...", ".<br /><br />", ","]
    capital = np.zeros(total, dtype=bool)
    capital[starts] = True
    capital[1:] |= (after[:-1] >= 0) & (after[:-1] < 5)

    # Spell the words, each with the space before it: capitals, typos.
    lower = np.array([" " + word for word in vocab.words], dtype=object)
    upper = np.array([" " + word[:1].upper() + word[1:] for word in vocab.words], dtype=object)
    spelt = np.where(capital, upper[words], lower[words])
    typos = np.flatnonzero(rng.random(total) < s.typo_rate)
    typo_kind, typo_at = rng.integers(0, 3, len(typos)), rng.random(len(typos))
    spelt[typos] = [" " + _typo(word[1:], k, a) for word, k, a in zip(spelt[typos].tolist(), typo_kind.tolist(), typo_at.tolist())]
    has_after = after >= 0
    spelt[has_after] = [w + punctuation[p] for w, p in zip(spelt[has_after].tolist(), after[has_after].tolist())]
    # A rating at the end of some reviews, as IMDB reviewers write it.
    texts = []
    rated = rng.random(count) < 0.12
    for r in range(count):
        text = "".join(spelt[starts[r] : starts[r] + lengths[r]].tolist())[1:]
        if rated[r]:
            text += f" {rating[r] if voice[r] == sign[r] else 11 - rating[r]}/10"
        texts.append(text)
    return texts, labels, rating


def write_realistic_aclimdb(
    root: Path, per_split: dict[str, int], *, seed: int = 0, settings: CorpusSettings = CorpusSettings()
) -> Path:
    """Write `corpus_reviews` as the Stanford archive lays it out: `aclImdb/SPLIT/pos|neg/ID_RATING.txt`.

    Args:
        root: the folder to write `aclImdb/` into.
        per_split: reviews per split, e.g. `{"train": 25_000, "test": 25_000}` (half of each positive).
        seed: the same seed gives the same files.

    Returns:
        The `aclImdb` folder.
    """
    folder = Path(root) / "aclImdb"
    for split, count in per_split.items():
        texts, labels, ratings = _generate(count, seed, split, settings)
        numbers = {"pos": 0, "neg": 0}
        for label in ("pos", "neg"):
            (folder / split / label).mkdir(parents=True, exist_ok=True)
        for text, label, rating in zip(texts, labels.tolist(), ratings.tolist()):
            kind = "pos" if label == 1 else "neg"
            path = folder / split / kind / f"{numbers[kind]}_{rating}.txt"
            numbers[kind] += 1
            path.write_text(text, encoding="utf-8")
    return folder
