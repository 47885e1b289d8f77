"""Clusters of every point and their names: what `projector-export clusters` computes.

One UMAP run (the fixture) covers the UMAP path; the rest cluster low-dimensional
points directly or name given clusters, so the module takes seconds once umap-learn's
functions are compiled.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

from blobs import noisy_blobs
from projector_export.cluster_names import (
    CATEGORICAL_LIMIT,
    NOISE_NAME,
    SMALL_CLUSTERS_NAME,
    cluster_column,
    cluster_table,
    name_clusters,
    representative_rows,
)
from projector_export.clustering import find_clusters, installed
from projector_export.errors import ProjectorExportError



@pytest.fixture(scope="module")
def libraries():
    """Skip without scikit-learn 1.3+ and umap-learn (the `layouts` extra), except in CI, where it is a failure."""
    if not installed():
        message = 'clustering tests need scikit-learn 1.3+ and umap-learn: pip install -e ".[test,layouts]"'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def agreement(truth: np.ndarray, ids: np.ndarray) -> float:
    """Adjusted Rand index between the true blobs and the clusters, on points that are in both."""
    from sklearn.metrics import adjusted_rand_score

    both = (truth >= 0) & (ids >= 0)
    return adjusted_rand_score(truth[both], ids[both])


@pytest.fixture(scope="module")
def blobs(libraries):
    vectors, truth = noisy_blobs(1500, 24, 4, noise=0.1, seed=2)
    return vectors, truth, find_clusters(vectors, seed=0)


def test_blobs_are_found_through_a_umap_and_the_noise_is_marked(blobs):
    _, truth, found = blobs
    assert found.reduction == "umap" and found.space.shape == (1500, 5)
    assert found.count == 4
    assert agreement(truth, found.ids) > 0.95
    assert np.mean(found.ids[truth < 0] < 0) > 0.7  # most true noise marked
    assert np.mean(found.ids[truth >= 0] < 0) < 0.05  # few blob points lost
    # numbered by size, largest first, sizes counted right
    assert list(found.sizes) == sorted(found.sizes, reverse=True)
    assert list(found.sizes) == [int((found.ids == c).sum()) for c in range(found.count)]
    assert found.noise == int((found.ids < 0).sum())
    assert "5-D UMAP" in found.describe() and "4 clusters" in found.describe()


def test_a_seed_gives_the_same_clusters(libraries):
    vectors, _ = noisy_blobs(300, 16, 3, noise=0.1, seed=5)
    first, again = find_clusters(vectors, seed=1), find_clusters(vectors, seed=1)
    assert first.reduction == "umap"
    np.testing.assert_array_equal(again.ids, first.ids)
    np.testing.assert_array_equal(again.space, first.space)


def corners():
    """Three 3-D blobs of 200, 150 and 100 points far apart, and 30 points of noise around them."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0], [0.0, 20.0, 0.0]])
    truth = np.concatenate([np.repeat(np.arange(3), [200, 150, 100]), np.full(30, -1)])
    vectors = np.concatenate([centres[truth[:450]] + rng.normal(size=(450, 3)), rng.uniform(-5, 25, size=(30, 3))])
    return vectors, truth


def test_few_columns_are_clustered_as_they_are(libraries):
    vectors, truth = corners()
    found = find_clusters(vectors, metric="euclidean", min_size=20)
    assert found.reduction == "none" and list(found.sizes) == pytest.approx([200, 150, 100], abs=10)
    assert agreement(truth, found.ids) == 1.0
    assert np.mean(found.ids[truth < 0] < 0) > 0.5  # (noise near a blob after it split off joins it)
    assert "UMAP" not in found.describe()


def test_no_cluster_is_smaller_than_min_size(libraries):
    vectors, _ = corners()
    found = find_clusters(vectors, metric="euclidean", min_size=120)
    assert found.min_size == 120 and list(found.sizes) == pytest.approx([200, 150], abs=10)


def three_groups():
    """Three 2-D groups of 30 around (0, 0), (10, 0) and (0, 10): the first and last row of each at
    its centre, the 28 others in pairs of opposite offsets, so that the centre is the groups' mean."""
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    ids = np.repeat(np.arange(3), 30)
    offsets = rng.normal(size=(3, 14, 2))
    offsets = np.concatenate([np.zeros((3, 1, 2)), offsets, -offsets, np.zeros((3, 1, 2))], axis=1)
    vectors = (centres[:, None, :] + offsets).reshape(90, 2)
    return ids, vectors


def test_a_cluster_is_named_by_the_labels_nearest_its_centre():
    ids, vectors = three_groups()
    labels = [f"point{i}" for i in range(90)]
    labels[0], labels[30], labels[60] = "apple", "boat", "cloud"
    names = name_clusters(ids, labels, vectors, metric="euclidean")
    assert [name.split(" · ")[0] for name in names] == ["apple", "boat", "cloud"]
    assert all(len(name.split(" · ")) == 3 for name in names)
    for cluster, name in enumerate(names):  # every part is a member's label
        members = {labels[i] for i in np.flatnonzero(ids == cluster)}
        assert set(name.split(" · ")) <= members


def test_counts_choose_among_the_members_near_the_centre_not_from_the_edge():
    ids, vectors = three_groups()
    labels = [f"point{i}" for i in range(90)]
    counts = np.ones(90)
    distance = np.linalg.norm(vectors[:30] - vectors[:30].mean(axis=0), axis=1)
    near, far = np.argsort(distance)[2], np.argmax(distance)
    labels[near], labels[far] = "frequent", "edge"
    counts[near] = counts[far] = 1_000_000
    first = name_clusters(ids, labels, vectors, counts=counts, metric="euclidean")[0].split(" · ")
    assert first[0] == "frequent" and "edge" not in first


def test_a_clusters_rows_come_most_representative_first():
    ids, vectors = three_groups()
    ids[5] = -1
    rows = representative_rows(ids, vectors, metric="euclidean")
    assert [len(r) for r in rows] == [29, 30, 30] and 5 not in rows[0]
    assert [r[0] for r in rows] == [0, 30, 60]  # the centres, then farther and farther
    assert np.all(np.diff(np.linalg.norm(vectors[rows[1]] - vectors[30], axis=1)) >= 0)


def test_multi_word_labels_are_named_by_the_words_that_set_a_cluster_apart():
    ids, vectors = three_groups()
    shades = ["dark", "light", "pale", "deep", "medium"]
    labels = [f"{shades[i % 5]} {['red', 'blue', 'green'][i // 30]}" for i in range(90)]
    labels[30:60] = [f"{shades[i % 5].title()}Blue{i % 4 or ''}" for i in range(30)]  # X11's DarkBlue, LightBlue2
    names = name_clusters(ids, labels, vectors, metric="euclidean")
    assert [name.split(" · ")[0] for name in names] == ["red", "blue", "green"]
    assert all(set(name.split(" · ")[1:]) <= set(shades) for name in names)


def test_subword_labels_are_shown_as_words():
    ids, vectors = three_groups()
    labels = [["great_", "superb_", "fine_"][i % 3] if i < 30 else "the_" for i in range(90)]
    labels[30], labels[60] = "<byte 0x41>", "gre"
    names = name_clusters(ids, labels, vectors, metric="euclidean")
    assert set(names[0].split(" · ")) == {"great", "superb", "fine"}
    assert names[1].startswith("A · ") and names[2].startswith("gre- · ")


def test_names_are_unique_whatever_the_labels():
    ids, vectors = three_groups()
    labels = ["same"] * 60 + [""] * 30  # two clusters of one label, one of empty labels
    names = name_clusters(ids, labels, vectors, metric="euclidean")
    assert names == ["same", "same (2)", "cluster 2"]
    labels = ["(no cluster)"] * 90  # a label equal to a reserved value
    names = name_clusters(ids, labels, vectors, metric="euclidean")
    assert len(set(names)) == 3 and not {NOISE_NAME, SMALL_CLUSTERS_NAME} & set(names)
    labels = [f"Big Thing{i}" for i in range(90)]  # the same words everywhere: named by labels then
    names = name_clusters(ids, labels, vectors, metric="euclidean")
    assert [name.split(" · ")[0] for name in names] == ["Big Thing0", "Big Thing30", "Big Thing60"]
    labels = ["Pneumonoultramicroscopicsilicovolcanoconiosis"] * 90  # too long for the legend
    assert name_clusters(ids, labels, vectors, metric="euclidean")[0] == "Pneumonoultramicroscopi…"
    labels = ["dark\tred", "light\nred"] * 45  # tabs and line ends would break the metadata file
    assert not any(set(name) & {"\t", "\n"} for name in name_clusters(ids, labels, vectors, metric="euclidean"))


def test_the_column_stays_within_the_projectors_categorical_limit():
    rng = np.random.default_rng(0)
    clusters = 60
    ids = np.repeat(np.arange(clusters), np.arange(clusters + 5, 5, -1))  # cluster 0 the largest
    ids = np.concatenate([ids, [-1] * 10])
    vectors = rng.normal(size=(len(ids), 4))
    labels = [f"w{i}" for i in range(len(ids))]
    names = name_clusters(ids, labels, vectors)
    column = cluster_column(ids, names)
    assert len(set(column)) == CATEGORICAL_LIMIT
    # 48 clusters keep their names; the other 12 share one value, beside the noise's
    assert len(set(names[:48])) == 48 and set(names[48:]) == {SMALL_CLUSTERS_NAME}
    assert column.count(NOISE_NAME) == 10
    # without noise, one more cluster keeps its name
    names = name_clusters(np.where(ids < 0, 0, ids), labels, vectors)
    assert len(set(names[:49])) == 49 and set(names[49:]) == {SMALL_CLUSTERS_NAME}
    # within the limit nothing is merged
    few = np.where(ids < 20, ids, -1)
    assert SMALL_CLUSTERS_NAME not in name_clusters(few, labels, vectors)


def test_the_table_gives_size_and_the_mean_of_each_numeric_column():
    ids = np.array([0, 0, 1, 1, 1, -1])
    names = ["good · great", "bad · awful"]
    header = ["token", "count", "sentiment", "kind"]
    rows = [["good_", "10", "0.9", "subword"], ["great_", "30", "", "subword"], ["bad_", "5", "0.1", "subword"],
            ["awful_", "7", "0.2", "subword"], ["dull_", "3", "0.3", "subword"], ["the_", "100", "0.5", "subword"]]
    table = cluster_table(ids, names, header, rows)
    assert [(row.name, row.size, row.ids) for row in table] == [
        ("good · great", 2, (0,)), ("bad · awful", 3, (1,)), (NOISE_NAME, 1, (-1,))]
    assert table[0].means == {"count": 20.0, "sentiment": 0.9}  # the empty cell left out
    assert table[1].means["sentiment"] == pytest.approx(0.2)
    merged = cluster_table(ids, ["a", SMALL_CLUSTERS_NAME], header, rows)  # clusters sharing a value: one row
    assert [(row.name, row.size) for row in merged] == [("a", 2), (SMALL_CLUSTERS_NAME, 3), (NOISE_NAME, 1)]


def test_one_point_repeated_is_one_cluster(libraries):
    for vectors in (np.ones((30, 8)), np.zeros((30, 8))):
        found = find_clusters(vectors)
        assert found.count == 1 and (found.ids == 0).all()


def test_two_or_three_points_get_an_answer(libraries):
    for rows in (2, 3):
        found = find_clusters(np.arange(rows * 4, dtype=float).reshape(rows, 4) ** 2, min_size=2)
        assert found.ids.shape == (rows,) and found.ids.min() >= -1


@pytest.mark.parametrize(
    "vectors, settings, message",
    [
        (np.ones((4, 8)), {}, "4 points, fewer than the 5 of one cluster (`min_size=5`)"),
        (np.ones((40, 8)), {"min_size": 1}, "`min_size=1`: a cluster needs at least 2 points"),
        (np.array([[1.0, 2.0], [np.nan, 1.0]]), {"min_size": 2}, "row 1, column 0 holds nan"),
        (np.ones((40, 8)), {"metric": "manhattan"}, "`metric=manhattan` is not one of cosine, euclidean"),
    ],
)
def test_bad_input_is_refused_in_one_line(vectors, settings, message, libraries):
    with pytest.raises(ProjectorExportError, match=re.escape(message)) as error:
        find_clusters(vectors, **settings)
    assert "\n" not in str(error.value)


def test_a_missing_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap now raises ImportError
    with pytest.raises(ProjectorExportError, match=r'umap-learn.*pip install "projector-export\[layouts\]"'):
        find_clusters(np.random.default_rng(0).normal(size=(100, 8)))
