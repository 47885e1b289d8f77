"""The fast subword vocabulary builder: tfds's vocabulary, subword for subword, in seconds.

Compared with `SubwordTextEncoder.build_from_corpus` itself on realistic reviews and on
random text full of what trips tokenizers (underscores, tfds's own `\\&undsc`, accents,
emoji, runs of spaces, long tokens); then saved and loaded the way the IMDB job and
users do, and used to encode and decode.
"""

from __future__ import annotations

import string

import numpy as np
import pytest
import tensorflow_datasets as tfds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow_datasets.core.deprecated.text import subword_text_encoder

from realistic_reviews import corpus_reviews
from training.imdb.encoding import FastEncoder
from training.imdb.subwords import build_subword_vocabulary, count_tokens

SubwordTextEncoder = tfds.deprecated.text.SubwordTextEncoder
AWKWARD = [
    "snake_case and __dunder__ names, _leading and trailing_ ",
    "tfds escapes underscores as \\&undsc, so a review may hold that too: a\\&undscb \\&undsc_",
    "Café naïve Björk Almodóvar 日本語のレビュー 😀👍 — “quotes” «guillemets»",
    "  two  spaces,   three   spaces, a tab\tand a\nnewline ",
    "x" * 45 + " https://www.example.com/a_path?q=1&r=2 " + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "",
    " ",
    "end with a space ",
]

# Pieces, so that tfds's escape string and runs of spaces come up often.
text = st.lists(st.sampled_from(list(string.ascii_lowercase[:8] + " _.,'!") + ["é", "日", "😀", "  ", "\\&undsc"])).map("".join)


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    texts, _ = corpus_reviews(100, seed=3)
    return texts + AWKWARD


def test_the_vocabulary_is_tfds_own_subword_for_subword(reviews):
    expected = SubwordTextEncoder.build_from_corpus(reviews, target_vocab_size=600)
    built = build_subword_vocabulary(reviews, target_vocab_size=600)
    assert isinstance(built, SubwordTextEncoder)
    assert built.subwords == expected.subwords
    assert built.vocab_size == expected.vocab_size
    assert abs(built.vocab_size - 600) <= 30
    # the kind of vocabulary the IMDB model expects: word ends marked, frequent words whole
    assert "the_" in built.subwords[:20] and any(s.endswith("_") for s in built.subwords)
    assert [built.encode(review) for review in reviews[:20]] == [expected.encode(review) for review in reviews[:20]]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(text, min_size=1, max_size=12), st.integers(258, 330))
def test_random_text_gives_the_same_vocabulary(texts, target):
    assert count_tokens(texts) == dict(subword_text_encoder._token_counts_from_generator(texts, None, []))
    if not any(texts):
        with pytest.raises(ValueError, match="no tokens"):
            build_subword_vocabulary(texts, target)
        return
    expected = SubwordTextEncoder.build_from_corpus(texts, target_vocab_size=target)
    assert build_subword_vocabulary(texts, target).subwords == expected.subwords


def test_saved_it_loads_with_tfds_and_round_trips(reviews, tmp_path):
    built = build_subword_vocabulary(reviews, target_vocab_size=600)
    built.save_to_file(str(tmp_path / "vocab"))
    loaded = SubwordTextEncoder.load_from_file(str(tmp_path / "vocab"))
    assert loaded.subwords == built.subwords and loaded.vocab_size == built.vocab_size
    for review in reviews:
        ids = loaded.encode(review)
        assert all(0 < i < loaded.vocab_size for i in ids)
        assert loaded.decode(ids) == review
    # what the subwords do not cover is spelt in bytes, the ids after the subwords
    ids = loaded.encode("日本")
    assert len(ids) == len("日本".encode("utf-8")) and min(ids) > len(loaded.subwords)


def test_it_reports_progress(reviews):
    lines = []
    build_subword_vocabulary(reviews, target_vocab_size=400, progress=lines.append)
    assert lines[0].startswith("counted the tokens of 108 texts")
    assert "distinct tokens" in lines[1]
    assert all(line.startswith("min_token_count ") and line.endswith(" tokens") for line in lines[2:])
    assert len(lines) > 3


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="target_vocab_size=100"):
        build_subword_vocabulary(["a review"], target_vocab_size=100)
    with pytest.raises(ValueError, match="no tokens"):
        build_subword_vocabulary(["", ""], target_vocab_size=300)
    with pytest.raises(ValueError, match="max_subword_length=0"):
        build_subword_vocabulary(["a review"], target_vocab_size=300, max_subword_length=0)


def test_the_fast_encoder_gives_encode_s_ids(reviews):
    encoder = build_subword_vocabulary(reviews, target_vocab_size=600)
    fast = FastEncoder(encoder)
    for texts in (reviews, corpus_reviews(40, seed=4, split="test")[0] + AWKWARD[::-1]):
        ids, lengths = fast.encode(texts, chunk=7)
        assert ids.dtype == np.int32 and lengths.tolist() == [len(encoder.encode(text)) for text in texts]
        starts = np.concatenate([[0], np.cumsum(lengths)])
        for number, text in enumerate(texts):
            assert ids[starts[number] : starts[number + 1]].tolist() == encoder.encode(text)


@settings(max_examples=40, deadline=None)
@given(st.lists(text, min_size=1, max_size=8))
def test_the_fast_encoder_agrees_on_random_text(texts):
    encoder = build_subword_vocabulary(AWKWARD + ["snake\\&undsccase_ a_b_c"] * 3, target_vocab_size=300)
    ids, lengths = FastEncoder(encoder).encode(texts)
    assert ids.tolist() == [i for text in texts for i in encoder.encode(text)]
    assert lengths.tolist() == [len(encoder.encode(text)) for text in texts]
