"""Building a subword vocabulary as tfds builds it, in seconds.

`build_subword_vocabulary` gives the vocabulary that tfds's
`SubwordTextEncoder.build_from_corpus` (Tensor2Tensor's algorithm) builds, subword for
subword, in seconds where tfds takes minutes: tfds's binary search over the minimum count
builds a vocabulary a dozen times, four passes each, and each pass splits every distinct
token greedily into the current subwords and counts every substring of up to 20
characters from each piece's start, in Python loops. Here the same steps run on a table
built once:

- **counting tokens** is one regular expression (`\\w+ (?=\\w|\\Z)|\\w+|\\W+`) that splits a
  review as tfds's tokenizer does and attaches the `_` of a word followed by one space,
  counted by `collections.Counter`;
- every **suffix** of every distinct token (cut to 20 characters) is listed once, sorted;
  the substrings a pass counts are the prefixes of the suffixes that start a piece, and
  sorted suffixes sharing a prefix are neighbours, so the counts of all substrings of one
  length are one `numpy.add.reduceat` over the table;
- the **greedy split** into subwords becomes, for each suffix, the length of the longest
  subword it starts with (each subword covers one range of the sorted table), then a walk
  from piece to piece over all tokens at once;
- the **selection** (longest candidates first, each accepted one taking its count off its
  prefixes) is done a length at a time on the same table.
"""

from __future__ import annotations

import bisect
import collections
import re
import time
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow_datasets as tfds

from projector_export.errors import ProjectorExportError

SubwordTextEncoder = tfds.deprecated.text.SubwordTextEncoder

# tfds writes an underscore inside a token as this string, so that `_` can end words.
UNDERSCORE_REPLACEMENT = "\\&undsc"
# tfds's tokenizer splits text into runs of \w and of \W (`text_encoder.ALL_REGEX`); a
# word followed by exactly one space (before a word or the end) becomes WORD_ and the
# space is dropped (`_prepare_tokens_for_encode`). One pattern does both: the first
# alternative is a word with its single space.
TOKEN_RE = re.compile(r"\w+ (?=\w|\Z)|\w+|\W+")
_WORD_START_RE = re.compile(r"\w")
_NUM_BYTES = 256


def tfds_token(found: str) -> str:
    """A token as `TOKEN_RE` finds it, written as tfds's tokenizer writes it: a word with its
    single space becomes `word_`, and an underscore inside is `\\&undsc`."""
    if found[-1] == " " and _WORD_START_RE.match(found):
        return found[:-1].replace("_", UNDERSCORE_REPLACEMENT) + "_"
    return found.replace("_", UNDERSCORE_REPLACEMENT)


def build_subword_vocabulary(
    texts: Iterable[str | bytes],
    target_vocab_size: int = 2**13,
    *,
    max_subword_length: int = 20,
    progress: Callable[[str], None] | None = None,
):
    """The vocabulary `SubwordTextEncoder.build_from_corpus(texts, target_vocab_size)` builds.

    Args:
        texts: the corpus, e.g. the training reviews.
        target_vocab_size: the size to aim for (padding, subwords and 256 bytes), as tfds's:
            the binary search over the minimum count stops within 1% of it, else keeps the
            closest vocabulary it tried.
        max_subword_length: the longest subword, in characters (tfds's default 20).
        progress: called with a short line on what is being done: tokens counted, then each
            minimum count tried and the size it gives.

    Returns:
        A `tfds.deprecated.text.SubwordTextEncoder`.

    Raises:
        ProjectorExportError: `target_vocab_size` below 258 (padding, 256 bytes and one
            subword), `max_subword_length` below 1, or no text at all.
    """
    if max_subword_length < 1:
        raise ProjectorExportError(f"`max_subword_length={max_subword_length}`: use at least 1 character")
    if target_vocab_size < _NUM_BYTES + 2:
        raise ProjectorExportError(
            f"`target_vocab_size={target_vocab_size}`: use at least {_NUM_BYTES + 2} (padding, the 256 bytes and "
            "one subword)"
        )
    report = progress or (lambda line: None)
    start = time.perf_counter()
    token_counts = count_tokens(texts, progress=report)
    if not token_counts:
        raise ProjectorExportError("the texts hold no tokens to build a vocabulary from; give texts with words in them")
    table = _SuffixTable(token_counts, max_subword_length)
    report(
        f"{len(token_counts):,} distinct tokens, {table.size:,} distinct suffixes "
        f"({time.perf_counter() - start:.1f} s)"
    )

    def build(min_token_count: int) -> list[str]:
        subwords = table.build(min_token_count, iterations=4)
        report(f"min_token_count {min_token_count:,}: {_vocab_size(subwords):,} tokens")
        return subwords

    # tfds's binary search on the minimum token count, unchanged: the same counts tried in
    # the same order, so the same vocabulary comes out.
    def binary_search(min_token_count: int, max_token_count: int) -> list[str]:
        candidate_min = (min_token_count + max_token_count) // 2
        subwords = build(candidate_min)
        vocab_size = _vocab_size(subwords)
        target_achieved = abs(vocab_size - target_vocab_size) * 100 < target_vocab_size
        if target_achieved or min_token_count >= max_token_count or candidate_min <= 1:
            return subwords
        if vocab_size > target_vocab_size:
            other = binary_search(candidate_min + 1, max_token_count)
        else:
            other = binary_search(min_token_count, candidate_min - 1)
        if abs(vocab_size - target_vocab_size) < abs(_vocab_size(other) - target_vocab_size):
            return subwords
        return other

    counts = token_counts.values()
    subwords = binary_search(max(min(counts), 1), max(counts))
    return SubwordTextEncoder(vocab_list=subwords)


def count_tokens(texts: Iterable[str | bytes], *, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """How often each token occurs, tokens as `build_from_corpus` counts them.

    A word followed by a single space is `word_`; an underscore inside a token is written
    `\\&undsc`. A text that holds `\\&undsc` itself (which tfds's tokenizer treats as a
    reserved token) is counted by tfds's own code.
    """
    raw: collections.Counter[str] = collections.Counter()
    odd: list[str] = []
    number = 0
    for number, text in enumerate(texts, 1):
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if UNDERSCORE_REPLACEMENT in text:
            odd.append(text)
        else:
            raw.update(TOKEN_RE.findall(text))
        if progress is not None and number % 5000 == 0:
            progress(f"counting tokens: {number:,} texts")
    if progress is not None:
        progress(f"counted the tokens of {number:,} texts")
    counts: dict[str, int] = collections.defaultdict(int)
    for token, count in raw.items():
        counts[tfds_token(token)] += count
    if odd:
        from tensorflow_datasets.core.deprecated.text import subword_text_encoder

        for token, count in subword_text_encoder._token_counts_from_generator(odd, None, []).items():
            counts[token] += count
    return dict(counts)


def _vocab_size(subwords: list[str]) -> int:
    return 1 + len(subwords) + _NUM_BYTES  # padding, subwords, bytes: as SubwordTextEncoder counts


class _SuffixTable:
    """Every suffix of every distinct token, cut to `max_length` characters and sorted.

    Sorted, the suffixes that share a prefix of length k are neighbours: a group at level
    k. The substrings tfds counts from a piece's start are the prefixes of that suffix, so
    the count of a substring of length k is the sum over its group of the counts of the
    suffixes that start pieces.
    """

    def __init__(self, token_counts: dict[str, int], max_length: int):
        self.max_length = max_length
        tokens = list(token_counts)
        self.token_counts = np.fromiter(token_counts.values(), dtype=np.float64, count=len(tokens))
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        suffixes = [token[start : start + max_length] for token in tokens for start in range(len(token))]
        keys = list(dict.fromkeys(suffixes))
        ids = {key: number for number, key in enumerate(keys)}
        at = list(map(ids.__getitem__, suffixes))
        del suffixes
        order = sorted(range(len(keys)), key=keys.__getitem__)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[order] = np.arange(len(keys))
        self.keys = [keys[i] for i in order]
        self.size = len(self.keys)
        # Per character position of every token: its suffix, its token, where the token ends.
        self.suffix_at = rank[np.array(at, dtype=np.int64)]
        self.token_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.token_of = np.repeat(np.arange(len(tokens)), lengths)
        self.token_ends = self.token_starts + lengths
        key_lengths = np.fromiter(map(len, self.keys), dtype=np.int64, count=self.size)
        self.key_lengths = key_lengths
        # Characters as code point + 1, 0 past the end; then the common prefix of neighbours.
        codes = np.frombuffer("".join(self.keys).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int32) + 1
        matrix = np.zeros((self.size, max_length), dtype=np.int32)
        rows = np.repeat(np.arange(self.size), key_lengths)
        columns = np.arange(len(codes)) - np.repeat(np.cumsum(key_lengths) - key_lengths, key_lengths)
        matrix[rows, columns] = codes
        same = (matrix[1:] == matrix[:-1]) & (matrix[1:] != 0)
        common = np.where(same.all(axis=1), max_length, same.argmin(axis=1))
        self.common = np.concatenate([[0], common])
        self.first_code = matrix[:, 0] - 1
        # tfds's split always takes `\&undsc` (an escaped underscore) as one piece.
        low = bisect.bisect_left(self.keys, UNDERSCORE_REPLACEMENT)
        high = low
        while high < self.size and self.keys[high].startswith(UNDERSCORE_REPLACEMENT):
            high += 1
        self.underscore_range = (low, high)
        self._first_pass: np.ndarray | None = None

    def build(self, min_token_count: int, iterations: int) -> list[str]:
        """tfds's `_build_from_token_counts(token_counts, min_token_count, [], iterations,
        max_length)`: the subwords, most frequent first."""
        ranges = np.zeros((0, 3), dtype=np.int64)  # the current subwords: (length, first, end) in the table
        subwords: list[str] = []
        for iteration in range(iterations):
            if iteration == 0:
                # No subwords yet: the split is the same for every minimum count.
                if self._first_pass is None:
                    self._first_pass = self._piece_counts(ranges)
                piece_counts = self._first_pass
            else:
                piece_counts = self._piece_counts(ranges)
            ranges, subwords = self._select(piece_counts, min_token_count)
        return subwords

    def _longest_subword(self, ranges: np.ndarray) -> np.ndarray:
        """For each suffix, the length of the longest current subword it starts with (0: none)."""
        low, high = self.underscore_range
        if high > low:
            ranges = np.concatenate([ranges, [[len(UNDERSCORE_REPLACEMENT), low, high]]])
        # The suffixes starting with a subword are one range of the table, inside the
        # ranges of its prefixes: paint the lengths shortest first.
        longest = np.zeros(self.size, dtype=np.int64)
        for length in np.unique(ranges[:, 0]).tolist():
            first, end = ranges[ranges[:, 0] == length, 1:].T
            cover = np.zeros(self.size + 1, dtype=np.int64)
            np.add.at(cover, first, 1)
            np.add.at(cover, end, -1)
            longest[np.cumsum(cover[:-1]) > 0] = length
        return longest

    def _piece_counts(self, ranges: np.ndarray) -> np.ndarray:
        """Split every token greedily into the current subwords (or single characters) and
        count, per suffix, how often a piece starts there (token counts summed)."""
        step = np.maximum(self._longest_subword(ranges)[self.suffix_at], 1)
        at = self.token_starts
        ends = self.token_ends
        counts = np.zeros(self.size, dtype=np.float64)
        while at.size:
            counts += np.bincount(self.suffix_at[at], weights=self.token_counts[self.token_of[at]], minlength=self.size)
            at = at + step[at]
            inside = at < ends
            at, ends = at[inside], ends[inside]
        return counts

    def _select(self, piece_counts: np.ndarray, min_token_count: int) -> tuple[np.ndarray, list[str]]:
        """tfds's candidate selection: substrings counted at least `min_token_count` times,
        longest first, each accepted one taking its count off its prefixes; sorted by count.

        Returns the accepted subwords as (length, first, end) ranges of the table, and as
        strings in tfds's order.
        """
        # Upwards: the count of every substring of length k (a group of the table), kept
        # only under prefixes that reached the minimum: a longer substring counts no more.
        levels = []
        alive = np.arange(self.size)
        for length in range(1, self.max_length + 1):
            bounds = np.flatnonzero(self.common[alive] < length)
            weights = np.where(self.key_lengths[alive] >= length, piece_counts[alive], 0.0)
            counts = np.add.reduceat(weights, bounds)
            enough = counts >= min_token_count
            if not enough.any():
                break
            levels.append((alive, bounds, counts))
            sizes = np.diff(np.append(bounds, len(alive)))
            alive = alive[np.repeat(enough, sizes)]
        # Downwards: accept, longest first, each taking its count off its prefixes.
        taken = np.zeros(self.size, dtype=np.float64)
        accepted = []
        candidates: list[tuple[int, str]] = []
        for length in range(len(levels), 0, -1):
            alive, bounds, counts = levels[length - 1]
            counts = counts - np.add.reduceat(taken[alive], bounds)
            keep = counts >= min_token_count
            if length == 1:  # single bytes are always in the vocabulary: only multi-byte characters
                keep &= self.first_code[alive[bounds]] >= 0x80
            groups = np.flatnonzero(keep)
            if not groups.size:
                continue
            kept = counts[groups]
            first = alive[bounds[groups]]
            end = np.append(alive[bounds[1:] - 1] + 1, alive[-1] + 1)[groups]
            taken[first] += kept
            accepted.append(np.stack([np.full(len(groups), length), first, end], axis=1))
            keys = self.keys
            candidates.extend((int(count), keys[index][:length]) for count, index in zip(kept.tolist(), first.tolist()))
        candidates.sort(reverse=True)
        ranges = np.concatenate(accepted) if accepted else np.zeros((0, 3), dtype=np.int64)
        return ranges, [subword for _, subword in candidates]
