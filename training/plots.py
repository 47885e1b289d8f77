"""Pictures of an embedding with every point drawn in its own colour.

`scatter_2d` and `scatter_3d` draw one embedding as a PNG; `animate` draws a sequence of
them (one per epoch) as a GIF; `colour_plots` draws both for a colour model's training.
They return the image's bytes, for the caller to write (the jobs write them into their
run folder through the file layer), and use matplotlib's object API, not `pyplot`, so
they need no display and no global state.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from projector_export.errors import ProjectorExportError

_DPI = 100
# A thin dark rim keeps white and pale colours visible on the white background.
_POINT_STYLE = {"linewidths": 0.3, "edgecolors": "0.35"}


def colour_plots(
    snapshots: Sequence[tuple[int, np.ndarray]], rgb: np.ndarray, *, steps_per_epoch: int, frames: int = 48
) -> dict[str, bytes]:
    """The final embedding as a scatter (2-D or 3-D) and a GIF of it through training.

    Args:
        snapshots: `(step, vectors)` in training order; the last is the final embedding.
        rgb: each point's colour, shape (N, 3), floats in [0, 1].
        steps_per_epoch: to caption the frames in epochs.
        frames: the GIF shows up to this many snapshots, more of the early ones, where
            the embedding changes most.

    Returns:
        File name -> bytes: `embedding-2d.png` (or `-3d`) and `training.gif`. Embeddings
        of more than 3 dimensions are drawn on their first three principal axes.
    """
    final = snapshots[-1][1]
    dims = final.shape[1]
    project = _projection(final, min(dims, 3))
    title = f"{dims}D colour embeddings" + (", first 3 principal axes" if dims > 3 else "")
    scatter, name = (scatter_2d, "embedding-2d.png") if dims == 2 else (scatter_3d, "embedding-3d.png")
    drawn = {name: scatter(project(final), rgb, title=title)}
    # Frames at squared spacing in steps, as in the post's animation.
    steps = np.array([step for step, _ in snapshots])
    wanted = np.linspace(0, np.sqrt(steps[-1]), frames) ** 2
    chosen = list(dict.fromkeys(np.abs(steps[None, :] - wanted[:, None]).argmin(axis=1).tolist()))
    sequence = [(f"epoch {round(steps[i] / steps_per_epoch, 2):g}", project(snapshots[i][1])) for i in chosen]
    drawn["training.gif"] = animate(sequence, rgb, title=f"Training of {title}")
    return drawn


def _projection(vectors: np.ndarray, k: int):
    """Vectors -> their first `k` coordinates, or for wider ones the first `k` principal
    axes of `vectors`: the same axes for every frame, so the animation does not flip."""
    if vectors.shape[1] <= k:
        return lambda points: points
    mean = vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(vectors - mean, full_matrices=False)
    return lambda points: (points - mean) @ axes[:k].T


def scatter_2d(
    vectors: np.ndarray,
    colours: np.ndarray,
    *,
    title: str = "2D colour embeddings",
    size: tuple[int, int] = (800, 600),
) -> bytes:
    """A 2-D scatter of `vectors` (N, 2) as PNG bytes, point i in colour `colours[i]` (RGB in [0, 1]).

    Args:
        vectors: the points, shape (N, 2).
        colours: their colours, shape (N, 3), floats in [0, 1].
        title: the plot's title.
        size: width and height in pixels.

    Example:

    ```python
    import numpy as np
    from training.plots import scatter_2d

    rgb = np.random.default_rng(0).random((50, 3))
    png = scatter_2d(rgb[:, :2], rgb, title="red against green")
    ```
    """
    figure, axes = _figure_2d(size, title)
    axes.scatter(vectors[:, 0], vectors[:, 1], c=colours, s=20, **_POINT_STYLE)
    return _png(figure)


def scatter_3d(
    vectors: np.ndarray,
    colours: np.ndarray,
    *,
    title: str = "3D colour embeddings",
    size: tuple[int, int] = (800, 600),
) -> bytes:
    """A 3-D scatter of `vectors` (N, 3) as PNG bytes, point i in colour `colours[i]`.

    Args as for `scatter_2d`.
    """
    figure, axes = _figure_3d(size, title)
    _scatter_3d(axes, vectors, colours, s=20)
    return _png(figure)


def animate(
    frames: Sequence[tuple[str, np.ndarray]],
    colours: np.ndarray,
    *,
    title: str = "Training of colour embeddings",
    size: tuple[int, int] = (640, 480),
    fps: int = 12,
    hold_last_s: float = 2.0,
) -> bytes:
    """A GIF (its bytes) with one frame per `(caption, vectors)` in `frames`.

    2-D vectors give a flat scatter, 3-D ones a 3-D scatter whose view turns slowly. The
    axes limits cover every frame, so the points move and the axes stay put.

    Args:
        frames: `(caption, vectors)` pairs in order, e.g. `("epoch 3", array)`.
        colours: point colours, shape (N, 3), floats in [0, 1].
        title: shown above every frame, followed by the frame's caption.
        size: width and height in pixels.
        fps: frames per second.
        hold_last_s: how long the last frame stays before the GIF loops.
    """
    if not frames:
        raise ProjectorExportError("`frames=[]`: animate needs at least one frame")
    dims = frames[0][1].shape[1]
    stacked = np.concatenate([vectors for _, vectors in frames])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    margin = 0.05 * np.maximum(high - low, 1e-6)
    low, high = low - margin, high + margin

    if dims == 2:
        figure, axes = _figure_2d(size, title)
        axes.set_xlim(low[0], high[0])
        axes.set_ylim(low[1], high[1])
        points = axes.scatter(frames[0][1][:, 0], frames[0][1][:, 1], c=colours, s=10, **_POINT_STYLE)
    else:
        figure, axes = _figure_3d(size, title)
        points = None
    canvas = FigureCanvasAgg(figure)

    images = []
    for number, (caption, vectors) in enumerate(frames):
        axes.set_title(f"{title}: {caption}")
        if dims == 2:
            points.set_offsets(vectors[:, :2])
        else:
            if points is not None:
                points.remove()
            points = _scatter_3d(axes, vectors, colours, s=10)
            axes.set_xlim(low[0], high[0])
            axes.set_ylim(low[1], high[1])
            axes.set_zlim(low[2], high[2])
            axes.view_init(elev=20, azim=-60 + 90 * number / max(len(frames) - 1, 1))
        canvas.draw()
        # Octree quantising is ten times quicker than the median cut PIL uses by default.
        image = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
        images.append(image.quantize(colors=256, method=Image.Quantize.FASTOCTREE))

    frame_ms = round(1000 / fps)
    durations = [frame_ms] * (len(images) - 1) + [max(frame_ms, round(1000 * hold_last_s))]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
    )
    return buffer.getvalue()


def _figure_2d(size: tuple[int, int], title: str):
    figure = Figure(figsize=(size[0] / _DPI, size[1] / _DPI), dpi=_DPI)
    axes = figure.add_subplot()
    axes.set_xlabel("$x_0$")
    axes.set_ylabel("$x_1$")
    axes.set_title(title)
    figure.subplots_adjust(left=0.1, right=0.95, bottom=0.1, top=0.92)
    return figure, axes


def _figure_3d(size: tuple[int, int], title: str):
    figure = Figure(figsize=(size[0] / _DPI, size[1] / _DPI), dpi=_DPI)
    axes = figure.add_subplot(projection="3d")
    axes.set_xlabel("$x_0$")
    axes.set_ylabel("$x_1$")
    axes.set_zlabel("$x_2$")
    axes.set_title(title)
    figure.subplots_adjust(left=0.0, right=1.0, bottom=0.02, top=0.95)
    return figure, axes


def _scatter_3d(axes, vectors: np.ndarray, colours: np.ndarray, s: float):
    # depthshade would fade far points and so change their colours.
    return axes.scatter(
        vectors[:, 0], vectors[:, 1], vectors[:, 2], c=colours, s=s, depthshade=False, **_POINT_STYLE
    )


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
