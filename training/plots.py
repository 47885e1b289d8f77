"""Pictures of an embedding with every point drawn in its own colour.

`scatter_2d` and `scatter_3d` draw one embedding as a PNG; `animate` draws a sequence of
them (one per epoch) as a GIF. They use matplotlib's object API, not `pyplot`, so they need
no display and no global state, and write through `tf.io.gfile` so `gs://` paths work.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

_DPI = 100
# A thin dark rim keeps white and pale colours visible on the white background.
_POINT_STYLE = {"linewidths": 0.3, "edgecolors": "0.35"}


def scatter_2d(
    path: str,
    vectors: np.ndarray,
    colours: np.ndarray,
    *,
    title: str = "2D colour embeddings",
    size: tuple[int, int] = (800, 600),
) -> str:
    """Write a 2-D scatter of `vectors` (N, 2), point i in colour `colours[i]` (RGB in [0, 1]).

    Args:
        path: where the PNG goes.
        vectors: the points, shape (N, 2).
        colours: their colours, shape (N, 3), floats in [0, 1].
        title: the plot's title.
        size: width and height in pixels.

    Returns:
        `path`.

    Example:

    ```python
    import numpy as np
    from training.plots import scatter_2d

    rgb = np.random.default_rng(0).random((50, 3))
    scatter_2d("rgb.png", rgb[:, :2], rgb, title="red against green")
    ```
    """
    figure, axes = _figure_2d(size, title)
    axes.scatter(vectors[:, 0], vectors[:, 1], c=colours, s=20, **_POINT_STYLE)
    _save_png(figure, path)
    return path


def scatter_3d(
    path: str,
    vectors: np.ndarray,
    colours: np.ndarray,
    *,
    title: str = "3D colour embeddings",
    size: tuple[int, int] = (800, 600),
) -> str:
    """Write a 3-D scatter of `vectors` (N, 3), point i in colour `colours[i]`.

    Args and result as for `scatter_2d`.
    """
    figure, axes = _figure_3d(size, title)
    _scatter_3d(axes, vectors, colours, s=20)
    _save_png(figure, path)
    return path


def animate(
    path: str,
    frames: Sequence[tuple[str, np.ndarray]],
    colours: np.ndarray,
    *,
    title: str = "Training of colour embeddings",
    size: tuple[int, int] = (640, 480),
    fps: int = 12,
    hold_last_s: float = 2.0,
) -> str:
    """Write a GIF with one frame per `(caption, vectors)` in `frames`.

    2-D vectors give a flat scatter, 3-D ones a 3-D scatter whose view turns slowly. The
    axes limits cover every frame, so the points move and the axes stay put.

    Args:
        path: where the GIF goes.
        frames: `(caption, vectors)` pairs in order, e.g. `("epoch 3", array)`.
        colours: point colours, shape (N, 3), floats in [0, 1].
        title: shown above every frame, followed by the frame's caption.
        size: width and height in pixels.
        fps: frames per second.
        hold_last_s: how long the last frame stays before the GIF loops.

    Returns:
        `path`.
    """
    if not frames:
        raise ValueError("animate needs at least one frame")
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
    _write_bytes(path, buffer.getvalue())
    return path


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


def _save_png(figure: Figure, path: str) -> None:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    _write_bytes(path, buffer.getvalue())


def _write_bytes(path: str, data: bytes) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "wb") as file:
        file.write(data)
