"""The subword vocabulary: tfds's `SubwordTextEncoder`, loaded from its file or built and saved.

`imdb_reviews/subwords8k` is gone from tfds, so the vocabulary of the notebook is built
from the training reviews (`training.imdb.subwords`, the same vocabulary as tfds's
`build_from_corpus`, in seconds) and kept as `LOGDIR/imdb-vocab8192.subwords` for the next
run. Ids are 0 for padding, then the subwords, then the 256 bytes that spell anything the
subwords do not cover; `token_labels` names each.

A vocabulary fits only the reviews it was built from: one built from 300 reviews has a few
hundred tokens and spells most of another corpus byte by byte (a model on it scores near
chance). So a saved vocabulary records what it was built from, in the metadata line that
tfds's file format has (`### Metadata: {...}`, which `load_from_file` reads and ignores):
the corpus's fingerprint (`corpus_fingerprint`), the target size and a digest of its
subwords. It is reused only for the same reviews and target; else it is built anew, in its
place when the record shows the file is the tool's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from projector_export.console import Progress, plural, say
from projector_export.errors import ProjectorExportError
from projector_export.files import fs, read_text, write_file
from training.imdb import DEFAULT_VOCAB_SIZE
from training.imdb.subwords import SubwordTextEncoder, build_subword_vocabulary

logger = logging.getLogger(__name__)

# tfds's file format (`text_encoder.write_lines_to_file`): a header, a metadata line, then
# one quoted subword a line.
_HEADER = "### SubwordTextEncoder"
_METADATA = "### Metadata: "
_RECORD_KEY = "projector_export"  # our record, inside the metadata line
MAX_VOCABULARY_BYTES = 64 << 20
# A vocabulary given with --vocab is worth a warning below this share of its target size,
# or when more than this share of the reviews' bytes is spelt byte by byte.
SMALL_VOCABULARY = 0.5
MANY_BYTE_TOKENS = 0.1


@dataclass(frozen=True)
class CorpusFingerprint:
    """What a vocabulary was built from: the number of texts, their UTF-8 bytes, and a SHA-256
    of them in order (each text's length, then its bytes)."""

    texts: int
    bytes: int
    sha256: str

    def describe(self) -> str:
        return f"{plural(self.texts, 'review')}, {self.bytes / 1e6:.1f} MB"


def corpus_fingerprint(texts: Sequence[str]) -> CorpusFingerprint:
    """The fingerprint of `texts`: a pass over their bytes, about 0.1 s for IMDB's 33 MB (the
    vocabulary takes seconds to build)."""
    digest = hashlib.sha256()
    size = 0
    for text in texts:
        data = text.encode("utf-8")
        size += len(data)
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return CorpusFingerprint(texts=len(texts), bytes=size, sha256=digest.hexdigest())


def default_vocabulary(logdir: str, vocab_size: int = DEFAULT_VOCAB_SIZE, *, name: str = "imdb") -> str:
    """Where a built vocabulary is kept, beside the run `name`: `LOGDIR/imdb-vocab8192.subwords`."""
    return posixpath.join(os.fspath(logdir), f"{name}-vocab{vocab_size}.subwords")


def vocabulary_file(path: str) -> str:
    """The file tfds's SubwordTextEncoder reads for `path`: `.subwords` is added if missing."""
    path = os.fspath(path)
    return path if path.endswith(".subwords") else path + ".subwords"


def subword_encoder(
    path: str,
    texts: list[str],
    target_vocab_size: int = DEFAULT_VOCAB_SIZE,
    *,
    given: bool = False,
    save: bool = True,
    live: bool | None = None,
) -> SubwordTextEncoder:
    """The subword vocabulary in `path` when it fits `texts`, else one built from `texts` and saved there.

    A vocabulary the tool saved is reused when its record names the same reviews and
    target size; otherwise (or when it has no record: earlier versions wrote none) one
    line says why and a new one is built and saved in its place. A file at `path` whose
    subwords are not those its record describes is someone's own: it is refused, never
    overwritten. A vocabulary the user named (`given`) is used as it is.

    Args:
        path: the vocabulary file (see `vocabulary_file`).
        texts: the training reviews, to build from.
        target_vocab_size: about how many ids a built vocabulary has.
        given: the user named `path` (`--vocab`): an existing file is used as given.
        save: save a built vocabulary (a multi-worker run's chief does, the others not).
        live: redraw the build's progress line (default: on a terminal).

    Raises:
        ProjectorExportError: `path` is not a vocabulary file, or is someone's own file at
            the default place and does not fit `texts`.
    """
    if given and fs.kind(os.fspath(path)) == fs.FOLDER:
        raise ProjectorExportError(
            f"`vocab={path}` is a folder; give a vocabulary file, e.g. {posixpath.join(os.fspath(path), 'vocab.subwords')}"
        )
    file = vocabulary_file(path)
    if not fs.exists(file):
        reason = f"Building a subword vocabulary of about {target_vocab_size:,} tokens from {plural(len(texts), 'review')}"
        return _build_and_save(file, texts, target_vocab_size, reason, save=save, live=live)
    encoder, record = read_vocabulary(file)
    if given:
        say(f"Using the subword vocabulary {file} ({encoder.vocab_size:,} tokens), as given")
        return encoder
    corpus = corpus_fingerprint(texts)
    if record is None:
        say(
            f"{file} has no record of the reviews it was built from (earlier versions saved none, and it may be "
            "someone's own): it is left as it is; building a vocabulary for these reviews, not saved (move that "
            "file away to have it saved there)"
        )
        return build_encoder(texts, target_vocab_size, live=live)
    elif record.get("subwords_sha256") != _subwords_digest(encoder.subwords):
        raise ProjectorExportError(
            f"{file} is not the vocabulary projector-train saved there: its subwords differ from its record. "
            f"Pass `vocab={file}` to use it as it is, or move it away to build a new one"
        )
    elif record.get("corpus") != asdict(corpus):
        try:
            built = CorpusFingerprint(**record["corpus"]).describe()
        except (KeyError, TypeError, ValueError):
            built = "a record it cannot read"
        why = f"{file} was built from other reviews ({built}; these are {corpus.describe()})"
    elif record.get("target_vocab_size") != target_vocab_size:
        why = f"{file} was built for about {record.get('target_vocab_size')} tokens, not {target_vocab_size:,}"
    else:
        say(
            f"Using the subword vocabulary {file} ({encoder.vocab_size:,} tokens), built from these "
            f"{plural(corpus.texts, 'review')}"
        )
        return encoder
    reason = f"{why}: building a new one of about {target_vocab_size:,} tokens in its place"
    return _build_and_save(file, texts, target_vocab_size, reason, save=save, live=live, corpus=corpus)


def _build_and_save(
    file: str,
    texts: list[str],
    target_vocab_size: int,
    reason: str,
    *,
    save: bool,
    live: bool | None,
    corpus: CorpusFingerprint | None = None,
) -> SubwordTextEncoder:
    say(f"{reason}; " + ("it is saved to " + file + " and reused next time" if save else "the chief saves it"))
    encoder = build_encoder(texts, target_vocab_size, live=live)
    if save:
        save_encoder(encoder, file, corpus=corpus or corpus_fingerprint(texts), target_vocab_size=target_vocab_size)
    return encoder


def load_encoder(path: str) -> SubwordTextEncoder:
    """The vocabulary saved in `path` (see `vocabulary_file`)."""
    return read_vocabulary(path)[0]


def read_vocabulary(path: str) -> tuple[SubwordTextEncoder, dict | None]:
    """The vocabulary saved in `path` and the record of what it was built from (None without one).

    Reads tfds's format as `SubwordTextEncoder.load_from_file` does, with one-line errors.
    """
    file = vocabulary_file(path)
    text = read_text(file, "vocabulary file", limit=MAX_VOCABULARY_BYTES)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2 or lines[0] != _HEADER or not lines[1].startswith(_METADATA):
        raise ProjectorExportError(
            f"vocabulary file {file} is not a subword vocabulary: it does not begin with the lines "
            f"{_HEADER!r} and '### Metadata: ...' that SubwordTextEncoder.save_to_file writes"
        )
    try:
        metadata = json.loads(lines[1][len(_METADATA) :])
    except json.JSONDecodeError:
        raise ProjectorExportError(f"vocabulary file {file}, line 2: the metadata is not JSON") from None
    for number, line in enumerate(lines[2:], start=3):
        if len(line) < 2 or line[0] != "'" or line[-1] != "'":
            raise ProjectorExportError(
                f"vocabulary file {file}, line {number}: {line[:40]!r} is not a subword in single quotes"
            )
    subwords = [line[1:-1] for line in lines[2:]]
    if not subwords:
        raise ProjectorExportError(f"{file} holds no subwords; delete it to build a new vocabulary")
    record = metadata.get(_RECORD_KEY) if isinstance(metadata, dict) else None
    return SubwordTextEncoder(vocab_list=subwords), record if isinstance(record, dict) else None


def build_encoder(
    texts: list[str], target_vocab_size: int = DEFAULT_VOCAB_SIZE, *, live: bool | None = None
) -> SubwordTextEncoder:
    """A vocabulary of about `target_vocab_size` ids built from `texts`: the one tfds's
    `SubwordTextEncoder.build_from_corpus` builds (see `build_subword_vocabulary`), with a
    progress line (`  vocabulary: 8,112 tokens in 9 s`)."""
    check_vocab_size(target_vocab_size)
    progress = Progress("  vocabulary", len(texts), stream=sys.stdout, live=live)
    encoder = build_subword_vocabulary(texts, target_vocab_size, progress=progress)
    progress.done(f"{encoder.vocab_size:,} tokens")
    return encoder


def check_vocab_size(vocab_size: int) -> None:
    """Refuse a target size without room for padding, the 256 bytes and a subword."""
    if vocab_size < 258:
        raise ProjectorExportError(
            f"`vocab_size={vocab_size}`: the vocabulary needs room for padding and 256 bytes; use at least 258"
        )


def save_encoder(
    encoder: SubwordTextEncoder,
    path: str,
    *,
    corpus: CorpusFingerprint | None = None,
    target_vocab_size: int | None = None,
) -> None:
    """Write `encoder` to the vocabulary file `path`, whole or not at all, in tfds's format,
    with the record of the corpus and target size it was built for (see `subword_encoder`).
    An existing file is replaced only when it is a vocabulary the tool saved (its record
    describes its subwords)."""
    file = vocabulary_file(path)
    metadata = {}
    if corpus is not None:
        metadata[_RECORD_KEY] = {
            "corpus": asdict(corpus),
            "target_vocab_size": target_vocab_size,
            "subwords_sha256": _subwords_digest(encoder.subwords),
        }
    lines = [_HEADER, _METADATA + json.dumps(metadata, sort_keys=True), *(f"'{subword}'" for subword in encoder.subwords)]
    write_file(file, "\n".join(lines) + "\n", what="vocabulary file", written_by_us=_saved_by_us)


def _saved_by_us(path: str) -> bool:
    """Whether the vocabulary at `path` is one the tool saved: its record describes its subwords."""
    try:
        encoder, record = read_vocabulary(path)
    except ProjectorExportError:
        return False
    return record is not None and record.get("subwords_sha256") == _subwords_digest(encoder.subwords)


def _subwords_digest(subwords: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(subwords).encode("utf-8")).hexdigest()


def check_given_vocabulary(
    path: str, encoder: SubwordTextEncoder, target_vocab_size: int, *, byte_tokens: int, text_bytes: int
) -> None:
    """Warn when a vocabulary the user gave looks built for other text: far below the target
    size, or spelling a large share of the reviews' bytes byte by byte."""
    if encoder.vocab_size < SMALL_VOCABULARY * target_vocab_size:
        logger.warning(
            "--vocab %s has %s tokens, under half the target of --vocab-size %s: was it built from a small "
            "corpus? A vocabulary built from these reviews fits them better (leave out --vocab)",
            path, f"{encoder.vocab_size:,}", f"{target_vocab_size:,}",
        )
    share = byte_tokens / max(text_bytes, 1)
    if share > MANY_BYTE_TOKENS:
        logger.warning(
            "--vocab %s spells %.0f%% of the training reviews' bytes (%s of %s) with byte tokens: it covers "
            "little of their text, so the model sees few whole words (leave out --vocab to build one from them)",
            path, 100 * share, f"{byte_tokens:,}", f"{text_bytes:,}",
        )


def token_labels(encoder: SubwordTextEncoder) -> tuple[list[str], list[str]]:
    """A label and a kind for every id: `<pad>`, each subword as the encoder shows it (a
    trailing `_` ends a word), then `<byte 0x00>` ... `<byte 0xff>`."""
    subwords = encoder.subwords
    tokens = ["<pad>", *subwords, *(f"<byte 0x{value:02x}>" for value in range(256))]
    kinds = ["padding"] + ["subword"] * len(subwords) + ["byte"] * 256
    if len(tokens) != encoder.vocab_size:
        raise ProjectorExportError(
            f"the encoder has {encoder.vocab_size} ids but {len(tokens)} labels; "
            "expected padding, its subwords and 256 bytes"
        )
    return tokens, kinds
