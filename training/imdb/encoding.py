"""`FastEncoder`: many reviews encoded at once, with exactly `SubwordTextEncoder.encode`'s ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import numpy as np

from training.imdb.subwords import TOKEN_RE, UNDERSCORE_REPLACEMENT, tfds_token


def slices(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """`flat[starts[i] : starts[i] + lengths[i]]` for every i, end to end, in one gather."""
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    # output position + (the slice's start in `flat` - its start in the output)
    at = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)
    return flat[at + np.arange(len(at))]


class FastEncoder:
    """Encode many texts with a `SubwordTextEncoder`, giving exactly its `encode`'s ids.

    `encode` runs tfds's tokenizer over each text and splits every token into subwords
    anew (it caches little). Here a text is split by the one regular expression of
    `count_tokens`, each distinct token is split once, with tfds's own code, and kept for
    later calls (the test split shares most tokens with the training split), and the ids
    are gathered with numpy. A text holding one of the encoder's reserved tokens
    (`\\&undsc`, or a subword that mixes letters with other characters) goes through
    `encoder.encode` itself.

    Example:

    ```python
    fast = FastEncoder(encoder)
    ids, lengths = fast.encode(reviews)   # all reviews end to end, and ids per review
    ```
    """

    def __init__(self, encoder):
        self.encoder = encoder
        self._reserved = encoder._tokenizer._reserved_tokens_re  # tfds splits these out first
        self._known: dict[str, list[int]] = {}  # token as the regular expression gives it -> its ids
        subwords = encoder.subwords
        # ids as `encode` returns them: 0 padding, 1.. subwords, then the 256 bytes
        self._subword_ids = {subword: number + 1 for number, subword in enumerate(subwords)}
        # tfds writes an escaped underscore as the byte `_`, whatever the subwords hold
        self._subword_ids[UNDERSCORE_REPLACEMENT] = len(subwords) + 1 + ord("_")
        self._prefixes = {subword[:end] for subword in self._subword_ids for end in range(1, len(subword) + 1)}
        self._byte_offset = len(subwords) + 1

    def encode(
        self, texts: Iterable[str | bytes], *, chunk: int = 2000, progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every text's ids (1 and up; 0 is padding), end to end: `(ids int32, lengths int64)`.

        `progress` is called with the number of texts done, every `chunk` texts.
        """
        parts: list[np.ndarray] = []
        lengths: list[int] = []
        batch: list[str] = []
        for text in texts:
            batch.append(text.decode("utf-8") if isinstance(text, bytes) else text)
            if len(batch) == chunk:
                self._encode_chunk(batch, parts, lengths)
                batch = []
                if progress is not None:
                    progress(len(lengths))
        if batch:
            self._encode_chunk(batch, parts, lengths)
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return ids.astype(np.int32), np.array(lengths, dtype=np.int64)

    def _encode_chunk(self, texts: list[str], parts: list[np.ndarray], lengths: list[int]) -> None:
        import pandas as pd

        tokens: list[str] = []
        counts = []  # tokens per text, or -1: encoded by tfds
        special = {}
        for number, text in enumerate(texts):
            if self._reserved is not None and self._reserved.search(text):
                special[number] = np.array(self.encoder.encode(text), dtype=np.int64)
                counts.append(-1)
            else:
                found = TOKEN_RE.findall(text)
                tokens.extend(found)
                counts.append(len(found))
        numbers, distinct = pd.factorize(np.array(tokens, dtype=object))
        known = self._known
        token_ids = [known.get(token) or self._remember(token) for token in distinct.tolist()]
        sizes = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids))
        flat = np.fromiter(itertools.chain.from_iterable(token_ids), dtype=np.int64, count=int(sizes.sum()))
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        # The ids of each token in turn: each token's slice of `flat`.
        per_token = sizes[numbers]
        ids = slices(flat, offsets[numbers], per_token)
        token_ends = np.cumsum(per_token)
        done = 0  # tokens consumed
        for number, count in enumerate(counts):
            if count < 0:
                parts.append(special[number])
                lengths.append(len(special[number]))
                continue
            low = int(token_ends[done - 1]) if done else 0
            high = int(token_ends[done + count - 1]) if count else low
            parts.append(ids[low:high])
            lengths.append(high - low)
            done += count

    def _remember(self, found: str) -> list[int]:
        """The ids of one token as `encode` gives them (tfds's `_token_to_ids`, plus one)."""
        token = tfds_token(found)
        ids = []
        start = 0
        while start < len(token):
            # The longest subword at `start`, found by extending while the text is still the
            # beginning of some subword (tfds tries every length, longest first: the same one).
            best = 0
            end = start + 1
            while end <= len(token) and token[start:end] in self._prefixes:
                if token[start:end] in self._subword_ids:
                    best = end
                end += 1
            if best:
                ids.append(self._subword_ids[token[start:best]])
                start = best
            else:  # no subword: the character's UTF-8 bytes (tfds spells a lone `_` as a space)
                char = token[start]
                ids.extend(self._byte_offset + byte for byte in (b" " if char == "_" else char.encode("utf-8")))
                start += 1
        self._known[found] = ids
        return ids
