"""`projector-train colours`: the blog post's colour embeddings, trained small and opened in TensorBoard."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from projector_export import ProjectorExportError
from projector_export.format.config import projector_order
from projector_export.format.metadata import parse_metadata
from projector_export.neighbours import nearest_neighbours_of_each
from early import Command, python_here
from training import cli
from training.callbacks import knn_agreement, snapshot_name
from training.colours import DEFAULT_EPOCHS, DEFAULT_PAIRS
from training.colours.data import load_colours, make_pairs
from training.colours.job import BATCH_SIZE, STEPS_PER_CALL, snapshot_steps, train_colours
from training.colours.model import build_model
from training.loop import fit

PAIRS, EPOCHS = 200_000, 3


# ---------------------------------------------------------------------------- data


def test_the_bundled_x11_colours_have_the_posts_names():
    colours = load_colours()
    assert len(colours) == 550
    assert colours["name"].is_unique
    assert list(colours.columns) == ["name", "r", "g", "b", "hex"]
    by_name = colours.set_index("name")
    assert tuple(by_name.loc["CadetBlue", ["r", "g", "b"]]) == (95, 158, 160)
    assert by_name.loc["honeydew4", "hex"] == "#838b83"
    assert tuple(by_name.loc["SpringGreen4", ["r", "g", "b"]]) == (0, 139, 69)
    assert tuple(by_name.loc["grey82", ["r", "g", "b"]]) == (209, 209, 209)
    assert {"SlateGray1", "SlateGray2", "SlateGray3", "SlateGray4"} <= set(colours["name"])
    # one spelling each: CamelCase over spaced, grey over its gray twin
    assert not {"cadet blue", "alice blue", "gray82", "SlateGray"} & set(colours["name"])
    assert colours[["r", "g", "b"]].to_numpy().min() >= 0
    assert colours[["r", "g", "b"]].to_numpy().max() <= 255


def test_pairs_follow_the_posts_rule():
    colours = load_colours()
    pairs = make_pairs(colours, 5_000)

    # The post's own code, on a table shaped like the post's.
    df = colours[["name"]].assign(**{c: colours[c] / 255 for c in "rgb"})
    df["num"] = df.index
    c = df.sample(n=5_000, replace=True, random_state=0).reset_index(drop=True).merge(
        df.sample(n=5_000, replace=True, random_state=42).reset_index(drop=True),
        left_index=True,
        right_index=True,
    )
    c["diff"] = ((c.r_x - c.r_y) ** 2 + (c.g_x - c.g_y) ** 2 + (c.b_x - c.b_y) ** 2) / 3
    np.random.seed(0)
    c["predict"] = (c["diff"] < 0.2 * np.random.random(c.shape[0]) ** 2).astype(int)

    np.testing.assert_array_equal(pairs.x, c[["num_x", "num_y"]].to_numpy())
    np.testing.assert_array_equal(pairs.diff, c["diff"].to_numpy())
    np.testing.assert_array_equal(pairs.y, c["predict"].to_numpy())
    assert pairs.x.dtype == np.int32 and pairs.y.dtype == np.float32


def test_about_a_quarter_of_the_posts_100000_pairs_are_similar():
    pairs = make_pairs(load_colours(), 100_000)
    assert pairs.x.shape == (100_000, 2)
    assert 0.2 < pairs.positive_share < 0.3


def test_the_three_file_layouts_read_the_same_colours(tmp_path):
    (tmp_path / "rgb.csv").write_text("name,r,g,b\nCadetBlue,95,158,160\nsnow, 255 ,250,250\n")
    (tmp_path / "hex.csv").write_text("Name,Hex,notes\nCadetBlue,#5F9EA0,x\nsnow,fffafa,\n")
    # The Kaggle file of the post: extra columns, and rows without a name are dropped.
    (tmp_path / "kaggle.csv").write_text(
        "Color Name,Credits,R;G;B Dec,RGB Hex,CSS Hex,BG/FG color sample\n"
        "CadetBlue,X,95;158;160,5F9EA0,,### SAMPLE ###\n"
        ",X,1;2;3,010203,,\n"
        "snow,X,255;250;250,FFFAFA,,### SAMPLE ###\n"
    )
    tables = [load_colours(str(tmp_path / name)) for name in ("rgb.csv", "hex.csv", "kaggle.csv")]
    for table in tables:
        assert table["name"].tolist() == ["CadetBlue", "snow"]
        assert table[["r", "g", "b"]].to_numpy().tolist() == [[95, 158, 160], [255, 250, 250]]
        assert table["hex"].tolist() == ["#5f9ea0", "#fffafa"]


def test_a_file_that_is_not_utf8_is_refused_naming_its_line(tmp_path):
    (tmp_path / "old.csv").write_bytes("name,r,g,b\nnoir,0,0,0\ncafé,1,2,3\n".encode("latin-1"))
    with pytest.raises(ProjectorExportError, match=r"old.csv, line 3: not UTF-8 text \(byte 0xe9\); save it as UTF-8"):
        load_colours(str(tmp_path / "old.csv"))


BAD_FILES = {
    "missing columns": ("name,red,green\nsnow,1,2\n", ["name,red,green", "name,r,g,b", "name,hex"]),
    "out of range": ("name,r,g,b\nsnow,255,250,250\nhot,256,0,0\n", ["line 3", "'r'", "'256'", "0 to 255"]),
    "negative": ("name,r,g,b\nsnow,255,250,250\ncold,0,-1,0\n", ["line 3", "'g'", "'-1'"]),
    "unparsable": ("name,r,g,b\nsnow,255,250,250\nodd,1,2,blue\n", ["line 3", "'b'", "'blue'"]),
    "missing value": ("name,r,g,b\nsnow,255,250,250\nshort,1,2\n", ["line 3", "'b'", "''"]),
    "bad hex": ("name,hex\nsnow,#fffafa\nodd,#12345g\n", ["line 3", "'hex'", "'#12345g'", "six hex digits"]),
    "bad kaggle rgb": (
        "Color Name,R;G;B Dec\nsnow,255;250;250\nodd,1;2\n",
        ["line 3", "'R;G;B Dec'", "'1;2'", "separated by ';'"],
    ),
    "duplicate name": (
        "name,r,g,b\nsnow,255,250,250\nred,255,0,0\nsnow,1,1,1\n",
        ["line 4", "'snow'", "line 2", "unique"],
    ),
    "empty name": ("name,r,g,b\nsnow,255,250,250\n,1,1,1\n", ["line 3", "'name' is empty"]),
    "one colour": ("name,r,g,b\nsnow,255,250,250\n", ["found 1 colours", "at least 2"]),
    "empty file": ("", ["(empty)", "name,r,g,b"]),
    "quote left open": ("name,r,g,b\nsnow,255,250,250\n\"odd,1,2,3\nred,255,0,0\n", ["line 4", "not readable as CSV"]),
    "text after a quote": ("name,r,g,b\nsnow,255,250,250\n\"a\"b,1,2,3\n", ["line 3", "not readable as CSV"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_colour_file_gets_an_error_naming_the_row(tmp_path, case):
    text, expected = BAD_FILES[case]
    path = tmp_path / "colours.csv"
    path.write_text(text)
    with pytest.raises(ProjectorExportError) as error:
        load_colours(str(path))
    message = str(error.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_the_command_line_reports_a_bad_file_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "colours.csv"
    path.write_text("name,r,g,b\nsnow,255,250,250\nhot,300,0,0\n")
    assert cli.main(["colours", "--data", str(path), "--logdir", str(tmp_path / "logs")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("projector-train colours: error: ")
    assert "line 3" in error and "Traceback" not in error
    assert not (tmp_path / "logs").exists()


# --------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--data", "no-such.csv"], "colour file no-such.csv: no such file"),
        (["--data", "."], "colour file . is a folder, not a file"),
        (["--seed", "-5"], "--seed -5: use a whole number from 0 to 4294967295"),
        (["--seed", "4294967296"], "--seed 4294967296: use a whole number from 0 to 4294967295"),
        (["--pairs", "0"], "--pairs 0: make at least 1 pair"),
        (["--dims", "1"], "--dims 1: an embedding needs at least 2 dimensions"),
    ],
)
def test_bad_options_get_one_line_and_exit_1_before_anything_is_written(argv, expected, tmp_path, capsys):
    assert cli.main(["colours", *argv, "--logdir", str(tmp_path / "logs")]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("projector-train colours: error: ")
    assert expected in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--epochs", "3", "colours"], "options go after the model name: projector-train colours --epochs 3"),
        (["--verbose", "--epochs", "3", "imdb", "--quiet"],
         "options go after the model name: projector-train --verbose imdb --epochs 3 --quiet"),
        (["--epochs", "3"], "name the model first, its options after it: projector-train colours --epochs 3 (models: colours, imdb)"),
        (["colours", "--pairs", "many"], "argument --pairs: invalid int value: 'many'"),
        (["imdb", "--learning-rate", "fast"], "argument --learning-rate: invalid float value: 'fast'"),
        (["imdb", "--sample", "--aclimdb", "aclImdb"], "argument --aclimdb: not allowed with argument --sample"),
    ],
)
def test_misplaced_and_unreadable_options_are_refused_as_argparse_does(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: projector-train") and err.splitlines()[-1].endswith(": error: " + expected)


def test_help_answers_without_importing_tensorflow():
    code = (
        "import sys\n"
        "from training.cli import main\n"
        "for argv in (['--help'], ['colours', '--help'], ['imdb', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "colours" in result.stdout and "--pairs" in result.stdout and "--normalise" in result.stdout


def test_the_help_shows_the_librarys_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["colours", "--help"])
    text = capsys.readouterr().out
    assert f"(default: {DEFAULT_PAIRS})" in text and f"(default: {DEFAULT_EPOCHS})" in text


# ---------------------------------------------------------------------- model, fit


def test_fit_gives_the_same_weights_and_losses_as_keras_fit():
    colours = load_colours()
    pairs = make_pairs(colours, 3_000)  # 6 steps of 512, the last one short

    def trained(use_keras: bool):
        keras.utils.set_random_seed(3)
        model = build_model(len(colours), 2)
        if use_keras:
            history = model.fit(pairs.x, pairs.y, batch_size=512, epochs=3, shuffle=False, verbose=0)
        else:
            history = fit(model, pairs.x, pairs.y, batch_size=512, epochs=3, shuffle=False, steps_per_call=4)
        return model.get_weights(), history.history

    ours, keras_fit = trained(False), trained(True)
    for mine, theirs in zip(ours[0], keras_fit[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    for metric in ("loss", "mse"):
        np.testing.assert_allclose(ours[1][metric], keras_fit[1][metric], rtol=1e-4)


def test_knn_agreement_is_one_for_the_same_geometry_and_near_chance_for_noise():
    rgb = load_colours()[["r", "g", "b"]].to_numpy()
    assert knn_agreement(rgb * 0.01 + 5, rgb) == 1.0
    noise = np.random.default_rng(0).normal(size=(len(rgb), 3))
    assert knn_agreement(noise, rgb) < 0.05  # chance: 10 / 549


def recorded_steps(pairs: int, epochs: int) -> tuple[list[int], int]:
    """The steps a run records snapshots at (after every execution of steps), and steps an epoch."""
    per_epoch = -(-pairs // BATCH_SIZE)
    within = sorted({*range(STEPS_PER_CALL, per_epoch, STEPS_PER_CALL), per_epoch})
    return [0] + [epoch * per_epoch + step for epoch in range(epochs) for step in within], per_epoch


def test_snapshots_are_about_a_dozen_close_together_early_then_whole_epochs():
    steps, per_epoch = recorded_steps(DEFAULT_PAIRS, DEFAULT_EPOCHS)
    chosen = snapshot_steps(steps, per_epoch)
    names = [snapshot_name(step, per_epoch, DEFAULT_EPOCHS) for step in chosen]
    assert names == [
        "snapshot-epoch-00", "snapshot-epoch-00-step-0064", "snapshot-epoch-00-step-0128",
        "snapshot-epoch-00-step-0192", "snapshot-epoch-00-step-0384", "snapshot-epoch-00-step-0640",
        "snapshot-epoch-00-step-1088", "snapshot-epoch-01", "snapshot-epoch-02", "snapshot-epoch-03",
        "snapshot-epoch-06", "snapshot-epoch-10",
    ]
    assert sorted(names) == names  # the projector lists them alphabetically: in training order
    # The post's settings: short epochs, so nearly all snapshots are whole epochs.
    steps, per_epoch = recorded_steps(100_000, 500)
    chosen = snapshot_steps(steps, per_epoch)
    assert 10 <= len(chosen) <= 13 and chosen[0] == 0 and chosen[-1] == 500 * per_epoch
    assert np.all(np.diff(chosen) > 0) and np.all(np.diff(np.diff(chosen)) >= 0)
    names = [snapshot_name(step, per_epoch, 500) for step in chosen]
    assert names[0] == "snapshot-epoch-000" and names[-1] == "snapshot-epoch-500" and sorted(names) == names
    assert "-step-" not in names[-2]


# ------------------------------------------------------- a whole run, in TensorBoard


def training_job(folder) -> list[Command]:
    """`projector-train colours` with few pairs and epochs into `folder/logs`."""
    return [python_here("-m", "training.cli", "colours", "--pairs", str(PAIRS), "--epochs", str(EPOCHS),
                        "--logdir", str(folder / "logs"))]


@pytest.fixture(scope="module")
def server(start_tensorboard, early_jobs):
    """A TensorBoard over the log dir that `training_job` writes, started first so that the two overlap."""
    return start_tensorboard(early_jobs.folder("test_colours.training_job") / "logs")


@pytest.fixture(scope="module")
def trained(server, early_jobs):
    """`training_job`, run early: its log dir and what it printed."""
    _, (done,) = early_jobs.wait("test_colours.training_job")
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(server.logdir), done.stdout


@pytest.mark.early("training_job")
def test_the_run_prints_the_positive_share_the_quality_and_how_to_open_it(trained):
    logdir, printed = trained
    assert "550 colours, 200,000 pairs" in printed and "% labelled similar" in printed
    assert printed.count("kNN@10 agreement") >= 2
    assert str(logdir / "colours-2d") in printed and str(logdir / "colours-3d") in printed
    assert printed.rstrip().endswith(f"tensorboard --logdir {logdir}")


def epoch_scalars(run_dir) -> dict[str, list[float]]:
    """The per-epoch scalars of a run's `train/` logs, read by TensorBoard's own event loader."""
    events = EventAccumulator(str(run_dir / "train"))
    events.Reload()
    return {
        tag: [float(tf.make_ndarray(event.tensor_proto)) for event in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
        if tag.startswith("epoch_")
    }


@pytest.mark.early("training_job")
def test_a_short_training_lowers_the_loss_and_learns_neighbours_far_above_chance(trained):
    logdir, _ = trained
    for run in ("colours-2d", "colours-3d"):
        scalars = epoch_scalars(logdir / run)
        assert len(scalars["epoch_loss"]) == EPOCHS
        loss = scalars["epoch_loss"]
        assert loss[-1] < loss[0] - 0.05
        assert loss[0] < 0.7  # an honest first-epoch mean, not a final batch
        assert len(scalars["epoch_mse"]) == EPOCHS and "epoch_learning_rate" in scalars
        knn = scalars["epoch_knn10"]
        assert knn[-1] > knn[0] and knn[-1] > 3 * 10 / 549  # chance: 10 of 549 others


@pytest.mark.early("training_job")
def test_the_runs_open_in_tensorboard_with_colour_names_and_swatches(trained, server):
    logdir, _ = trained
    server.wait_for_runs({"colours-2d/projector", "colours-3d/projector"})
    colours = load_colours()

    for run, dims in (("colours-2d/projector", 2), ("colours-3d/projector", 3)):
        embeddings = {e["tensorName"].split("/")[0]: e for e in server.info(run)["embeddings"]}
        assert list(embeddings)[0] == "final"
        steps, per_epoch = recorded_steps(PAIRS, EPOCHS)
        snapshots = [snapshot_name(step, per_epoch, EPOCHS) for step in snapshot_steps(steps, per_epoch)[:-1]]
        assert list(embeddings) == ["final", *snapshots]
        # what the data panel lists, and opens the first of: the trained one, then training order
        order = projector_order((name, e["tensorShape"], bool(e.get("metadataPath"))) for name, e in embeddings.items())
        assert order == ["final", *snapshots]
        assert snapshots[:3] == ["snapshot-epoch-00", "snapshot-epoch-00-step-064", "snapshot-epoch-00-step-128"]
        assert "snapshot-epoch-02" in snapshots
        final = embeddings["final"]
        # 2-D is stored with a third column of zeros, which the projector needs to draw it
        assert final["tensorShape"] == [550, 3]
        vectors = server.tensor(run, final["tensorName"], (550, 3))
        assert np.isfinite(vectors).all()
        assert (vectors[:, dims:] == 0).all() and (vectors[:, :dims] != 0).any(axis=0).all()
        start = server.tensor(run, embeddings["snapshot-epoch-00"]["tensorName"], (550, 3))
        assert np.abs(start).max() <= 0.05  # Keras's starting weights
        assert not np.allclose(start, vectors)

        header, rows = parse_metadata(server.metadata(run, final["tensorName"]))
        assert header == ["name", "hex", "r", "g", "b"] + (["cluster"] if final["tensorName"] == "final" else [])
        assert len(rows) == 550
        assert [row[0] for row in rows] == colours["name"].tolist()
        cadet = rows[colours.index[colours["name"] == "CadetBlue"][0]]
        assert cadet[:5] == ["CadetBlue", "#5f9ea0", "95", "158", "160"]

        width, height = final["sprite"]["singleImageDim"]
        sprite = np.asarray(Image.open(io.BytesIO(server.sprite(run, final["tensorName"]))).convert("RGB"))
        per_row = sprite.shape[1] // width
        for point in (0, 123, 549):
            row, column = divmod(point, per_row)
            cell = sprite[row * height : (row + 1) * height, column * width : (column + 1) * width]
            assert (cell == colours.loc[point, ["r", "g", "b"]].to_numpy()).all()


@pytest.mark.early("training_job")
def test_euclidean_neighbours_are_near_in_colour_and_cosine_ones_far_less(trained):
    """The model learnt squared Euclidean distances: the summary sends users to --metric euclidean."""
    logdir, printed = trained
    run = str(logdir / "colours-3d" / "projector")
    assert f"projector-export neighbours {logdir / 'colours-3d' / 'projector'} red --metric euclidean" in printed
    colours = load_colours()
    rgb = dict(zip(colours["name"], colours[["r", "g", "b"]].to_numpy(dtype=float)))

    def rgb_distance_to_neighbours(metric):
        found = nearest_neighbours_of_each(run, list(rgb), k=10, metric=metric)
        return np.mean([np.linalg.norm(rgb[n.label] - rgb[name]) for name, near in found.items() for n in near])

    euclidean, cosine = rgb_distance_to_neighbours("euclidean"), rgb_distance_to_neighbours("cosine")
    # after 3 short epochs here: 95 against 117 (the default run: far apart)
    assert euclidean < 0.9 * cosine, (euclidean, cosine)


@pytest.mark.early("training_job")
def test_each_run_has_its_scatter_and_animation(trained):
    logdir, _ = trained
    for run, scatter in (("colours-2d", "embedding-2d.png"), ("colours-3d", "embedding-3d.png")):
        with Image.open(logdir / run / "plots" / scatter) as image:
            assert (image.format, image.size) == ("PNG", (800, 600))
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
            assert len(np.unique(pixels, axis=0)) > 50  # coloured points, not a blank canvas
        with Image.open(logdir / run / "plots" / "training.gif") as gif:
            assert (gif.format, gif.size) == ("GIF", (640, 480))
            assert gif.n_frames >= 10
            gif.seek(gif.n_frames - 1)


def test_training_again_replaces_the_old_logs(tmp_path):
    for _ in range(2):
        (run,) = train_colours((2,), pairs=2_000, epochs=2, logdir=str(tmp_path), verbose=0, clusters=False)
    assert len(epoch_scalars(tmp_path / "colours-2d")["epoch_loss"]) == 2
    assert run.run_dir == str(tmp_path / "colours-2d") and run.epochs == 2


def test_normalise_adds_a_unit_length_run_and_wide_embeddings_are_drawn_in_3d(tmp_path):
    runs = train_colours((4,), pairs=2_000, epochs=1, logdir=str(tmp_path), normalise=True, verbose=0, clusters=False)
    assert [(run.run_dir, run.normalised) for run in runs] == [
        (str(tmp_path / "colours-4d"), False),
        (str(tmp_path / "colours-4d-normalised"), True),
    ]
    final = tf.train.load_checkpoint(runs[1].export.checkpoint_prefix).get_tensor("final")
    assert final.shape == (550, 4)
    np.testing.assert_allclose(np.linalg.norm(final, axis=1), 1.0, rtol=1e-5)
    for run in runs:
        assert [Path(path).name for path in run.plots] == ["embedding-3d.png", "training.gif"]
