"""The subword vocabulary: tfds's `SubwordTextEncoder`, loaded from its file or built and saved.

`imdb_reviews/subwords8k` is gone from tfds, so the vocabulary of the notebook is built
from the training reviews (`training.imdb.subwords`, the same vocabulary as tfds's
`build_from_corpus`, in seconds) and kept as `LOGDIR/imdb-vocab8192.subwords` for the next
run. Ids are 0 for padding, then the subwords, then the 256 bytes that spell anything the
subwords do not cover; `token_labels` names each.
"""

from __future__ import annotations

import os
import posixpath

import tensorflow as tf

from projector_export.errors import ProjectorExportError
from training.imdb import DEFAULT_VOCAB_SIZE
from training.imdb.subwords import SubwordTextEncoder, build_subword_vocabulary
from training.progress import Progress


def default_vocabulary(logdir: str, vocab_size: int = DEFAULT_VOCAB_SIZE) -> str:
    """Where a built vocabulary is kept, beside the run: `LOGDIR/imdb-vocab8192.subwords`."""
    return posixpath.join(os.fspath(logdir), f"imdb-vocab{vocab_size}.subwords")


def vocabulary_file(path: str) -> str:
    """The file tfds's SubwordTextEncoder reads for `path`: `.subwords` is added if missing."""
    path = os.fspath(path)
    return path if path.endswith(".subwords") else path + ".subwords"


def subword_encoder(
    path: str,
    texts: list[str],
    target_vocab_size: int = DEFAULT_VOCAB_SIZE,
    *,
    save: bool = True,
    live: bool | None = None,
) -> SubwordTextEncoder:
    """The subword vocabulary in `path` if it exists, else one built from `texts` and saved there.

    Args:
        path: the vocabulary file (see `vocabulary_file`).
        texts: the training reviews, to build from.
        target_vocab_size: about how many ids a built vocabulary has.
        save: save a built vocabulary (a multi-worker run's chief does, the others not).
        live: redraw the build's progress line (default: on a terminal).
    """
    file = vocabulary_file(path)
    if tf.io.gfile.exists(file):
        encoder = load_encoder(file)
        print(f"Using the subword vocabulary {file} ({encoder.vocab_size:,} tokens)")
        return encoder
    print(
        f"Building a subword vocabulary of about {target_vocab_size:,} tokens from {len(texts):,} reviews; "
        + (f"it is saved to {file} and reused next time" if save else "the chief saves it")
    )
    encoder = build_encoder(texts, target_vocab_size, live=live)
    if save:
        save_encoder(encoder, file)
    return encoder


def load_encoder(path: str) -> SubwordTextEncoder:
    """The vocabulary saved in `path` (see `vocabulary_file`)."""
    file = vocabulary_file(path)
    encoder = SubwordTextEncoder.load_from_file(file[: -len(".subwords")])
    if not encoder.subwords:
        raise ProjectorExportError(f"{file} holds no subwords; delete it to build a new vocabulary")
    return encoder


def build_encoder(
    texts: list[str], target_vocab_size: int = DEFAULT_VOCAB_SIZE, *, live: bool | None = None
) -> SubwordTextEncoder:
    """A vocabulary of about `target_vocab_size` ids built from `texts`: the one tfds's
    `SubwordTextEncoder.build_from_corpus` builds (see `build_subword_vocabulary`), with a
    progress line (`  vocabulary: 8,112 tokens in 9 s`)."""
    check_vocab_size(target_vocab_size)
    progress = Progress("  vocabulary", len(texts), live=live)
    encoder = build_subword_vocabulary(texts, target_vocab_size, progress=progress.say)
    progress.done(f"{encoder.vocab_size:,} tokens")
    return encoder


def check_vocab_size(vocab_size: int) -> None:
    """Refuse a target size without room for padding, the 256 bytes and a subword."""
    if vocab_size < 258:
        raise ProjectorExportError(
            f"`vocab_size={vocab_size}`: the vocabulary needs room for padding and 256 bytes; use at least 258"
        )


def save_encoder(encoder: SubwordTextEncoder, path: str) -> None:
    """Write `encoder` to the vocabulary file `path`, whole or not at all."""
    file = vocabulary_file(path)
    tf.io.gfile.makedirs(posixpath.dirname(file) or ".")
    # Written beside and renamed, so a reader never sees half a vocabulary.
    partial = f"{file[: -len('.subwords')]}.partial-{os.getpid()}"
    encoder.save_to_file(partial)
    tf.io.gfile.rename(partial + ".subwords", file, overwrite=True)


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
