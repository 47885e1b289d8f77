"""The fast subword vocabulary builder: tfds's vocabulary, subword for subword, in seconds.

Compared with `SubwordTextEncoder.build_from_corpus` itself on realistic reviews and on
random text full of what trips tokenizers (underscores, tfds's own `\\&undsc`, accents,
emoji, runs of spaces, long tokens); then saved and loaded the way the IMDB job and
users do, and used to encode and decode.
"""

from __future__ import annotations

import json
import logging
import re
import string

import numpy as np
import pytest
import tensorflow_datasets as tfds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow_datasets.core.deprecated.text import subword_text_encoder

from projector_export import ProjectorExportError
from training.imdb.sample import corpus_reviews
from training.imdb.encoding import FastEncoder
from training.imdb.subwords import build_subword_vocabulary, count_tokens
from training.imdb.vocabulary import check_given_vocabulary, corpus_fingerprint, load_encoder, subword_encoder

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


# ------------------------------------------------- the saved vocabulary and its record


def saved_lines(path):
    return path.read_text(encoding="utf-8").split("\n")


def test_a_saved_vocabulary_is_reused_only_for_the_reviews_and_target_it_was_built_for(reviews, tmp_path, capsys):
    file = tmp_path / "imdb-vocab400.subwords"
    built = subword_encoder(str(file), reviews, 400, live=False)
    assert "Building a subword vocabulary of about 400 tokens from 108 reviews" in capsys.readouterr().out
    # tfds reads it as its own, and the record sits in the metadata line tfds ignores
    assert SubwordTextEncoder.load_from_file(str(file)[: -len(".subwords")]).subwords == built.subwords
    record = json.loads(saved_lines(file)[1].removeprefix("### Metadata: "))["projector_export"]
    assert record["corpus"] == {"texts": 108, "bytes": sum(len(r.encode()) for r in reviews),
                                "sha256": corpus_fingerprint(reviews).sha256}
    assert record["target_vocab_size"] == 400

    again = subword_encoder(str(file), reviews, 400, live=False)
    assert again.subwords == built.subwords
    assert f"Using the subword vocabulary {file} ({built.vocab_size:,} tokens), built from these 108 reviews" in capsys.readouterr().out

    other = corpus_reviews(300, seed=5)[0]
    rebuilt = subword_encoder(str(file), other, 400, live=False)
    printed = capsys.readouterr().out
    assert printed.startswith(
        f"{file} was built from other reviews (108 reviews, 0.1 MB; these are 300 reviews, "
    )
    assert "building a new one of about 400 tokens in its place" in printed
    assert rebuilt.subwords != built.subwords
    assert load_encoder(str(file)).subwords == rebuilt.subwords  # replaced: it was the tool's own

    subword_encoder(str(file), other, 500, live=False)
    assert f"{file} was built for about 400 tokens, not 500" in capsys.readouterr().out


def test_a_vocabulary_without_a_record_is_not_used_nor_replaced_and_someone_elses_is_refused(
    reviews, tmp_path, capsys
):
    file = tmp_path / "imdb-vocab400.subwords"
    old = build_subword_vocabulary(["only a few words here"] * 3, 300)
    old.save_to_file(str(file)[: -len(".subwords")])  # as earlier versions saved it, or a user: no record
    before = file.read_bytes()
    rebuilt = subword_encoder(str(file), reviews, 400, live=False)
    assert f"{file} has no record of the reviews it was built from" in capsys.readouterr().out
    assert rebuilt.subwords != old.subwords and file.read_bytes() == before  # built for these reviews, not saved
    file.unlink()  # moved away: the new one is saved
    subword_encoder(str(file), reviews, 400, live=False)
    assert load_encoder(str(file)).subwords == rebuilt.subwords

    # Someone put their own subwords in the file: never overwritten, and not used unasked.
    lines = saved_lines(file)
    file.write_text("\n".join(lines[:2] + ["'mine_'"] + lines[2:]), encoding="utf-8")
    mine = file.read_bytes()
    with pytest.raises(ProjectorExportError, match=r"is not the vocabulary projector-train saved there.*`vocab="):
        subword_encoder(str(file), reviews, 400, live=False)
    assert file.read_bytes() == mine
    # named by the user, it is used as it is
    given = subword_encoder(str(file), reviews, 400, given=True, live=False)
    assert given.subwords[0] == "mine_" and "as given" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("root:x:0:0:root:/root:/bin/bash\n", "is not a subword vocabulary"),
        ("### SubwordTextEncoder\n### Metadata: {}\n", "holds no subwords"),
        ("### SubwordTextEncoder\n### Metadata: {\n'a'\n", "line 2: the metadata is not JSON"),
        ("### SubwordTextEncoder\n### Metadata: {}\n'a'\nb\n", "line 4: 'b' is not a subword in single quotes"),
    ],
)
def test_a_file_that_is_not_a_vocabulary_gets_one_line(content, expected, tmp_path):
    file = tmp_path / "given.subwords"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ProjectorExportError, match=re.escape(expected)):
        subword_encoder(str(file), ["a review"], 300, given=True)
    (tmp_path / "folder.subwords").mkdir()
    with pytest.raises(ProjectorExportError, match="folder.subwords` is a folder; give a vocabulary file"):
        subword_encoder(str(tmp_path / "folder.subwords"), ["a review"], 300, given=True)
    with pytest.raises(ProjectorExportError, match="vocabulary file .*folder.subwords is a folder, not a file"):
        subword_encoder(str(tmp_path / "folder.subwords"), ["a review"], 300)  # the default place


def test_a_given_vocabulary_built_for_other_text_gets_a_warning_with_the_numbers(reviews, caplog):
    small = build_subword_vocabulary(["only a few words here"] * 3, 300)
    ids, _ = FastEncoder(small).encode(reviews)
    counts = np.bincount(ids, minlength=small.vocab_size)
    text_bytes = sum(len(review.encode()) for review in reviews)
    with caplog.at_level(logging.WARNING):
        check_given_vocabulary("small.subwords", small, 8192, byte_tokens=int(counts[-256:].sum()), text_bytes=text_bytes)
    first, second = (record.getMessage() for record in caplog.records)
    assert f"--vocab small.subwords has {small.vocab_size} tokens, under half the target of --vocab-size 8,192" in first
    share = counts[-256:].sum() / text_bytes
    assert share > 0.3 and f"spells {100 * share:.0f}% of the training reviews' bytes" in second

    caplog.clear()
    fitting = build_subword_vocabulary(reviews, 600)
    ids, _ = FastEncoder(fitting).encode(reviews)
    with caplog.at_level(logging.WARNING):
        check_given_vocabulary("fit.subwords", fitting, 600, byte_tokens=int(np.sum(ids > len(fitting.subwords))),
                               text_bytes=text_bytes)
    assert caplog.records == []
