"""Sprite images: one picture per point, tiled the way the projector reads them.

The projector cuts a sprite into cells of `single_image_dim` pixels, left to
right and top to bottom, point i in cell i. It refuses a sprite image wider
or taller than 8192 px (`Sprite image ... exceeds maximum dimensions`), so
large point counts get smaller cells.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_export.arrays import to_numpy
from projector_export.errors import ProjectorExportError

MAX_SPRITE_PX = 8192
SWATCH_PX = 16


@dataclass(frozen=True)
class Sprite:
    """A tiled sprite image and the size of one cell, as `[width, height]`."""

    image: np.ndarray  # (rows * height, cols * width, channels), uint8
    single_image_dim: tuple[int, int]

    def to_png(self) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.image.squeeze(-1) if self.image.shape[-1] == 1 else self.image).save(
            buffer, format="PNG", optimize=False
        )
        return buffer.getvalue()


def make_sprite(sprite: Any, num_points: int, *, cell_size: int | None = None) -> Sprite:
    """Tile per-point images or colours into a square sprite of at most 8192 px a side.

    Args:
        sprite: per-point images, an array (N, H, W) or (N, H, W, C) with C in
            1, 3, 4 (uint8, or floats in [0, 1]); or per-point colours, an
            (N, 3) / (N, 4) array (uint8, or floats in [0, 1]) or a list of N
            colour strings ("#ff8800", "tab:blue", "red"), drawn as solid swatches.
        num_points: the tensor's row count; the sprite needs one picture per row.
        cell_size: swatch side in pixels for colours (default 16).

    Raises:
        ProjectorExportError: for a wrong count, bad values, or more points than
            8192 x 8192 one-pixel cells hold.
    """
    grid = _grid_side(num_points)
    array = _as_array(sprite)
    if array.dtype.kind in "OUS" or array.ndim == 2 and array.shape[1] in (3, 4) or array.ndim == 1:
        colours = _colours_rgba(array)
        _check_count(len(colours), num_points, "colours")
        side = max(1, min(cell_size or SWATCH_PX, MAX_SPRITE_PX // grid))
        cells = colours.reshape(-1, 1, 1, 4)
        return _tile(cells, grid, (side, side), repeat=side)
    if array.ndim in (3, 4):
        images = _images_uint8(array)
        _check_count(len(images), num_points, "images")
        height, width = images.shape[1:3]
        scale = min(1.0, MAX_SPRITE_PX / (grid * max(height, width)))
        if scale < 1.0:
            images = _shrink(images, max(1, int(width * scale)), max(1, int(height * scale)))
            height, width = images.shape[1:3]
        return _tile(images, grid, (width, height))
    raise ProjectorExportError(
        f"sprite has shape {array.shape}; give per-point images (N, H, W[, C]) or "
        "per-point colours (N, 3), (N, 4) or a list of colour strings"
    )


def _grid_side(num_points: int) -> int:
    grid = math.isqrt(num_points - 1) + 1 if num_points > 1 else 1
    if grid > MAX_SPRITE_PX:
        raise ProjectorExportError(
            f"a sprite for {num_points:,} points needs a {grid}x{grid} grid, and even 1-px "
            f"cells exceed the projector's {MAX_SPRITE_PX} px limit; export at most "
            f"{MAX_SPRITE_PX ** 2:,} points with a sprite, or leave the sprite out"
        )
    return grid


def _as_array(sprite: Any) -> np.ndarray:
    try:
        return np.asarray(to_numpy(sprite))
    except ValueError as error:
        raise ProjectorExportError(
            f"sprite is ragged ({error}); every image must have the same shape"
        ) from None


def _check_count(count: int, num_points: int, what: str) -> None:
    if count != num_points:
        raise ProjectorExportError(
            f"sprite has {count} {what} but the tensor has {num_points} rows; "
            "give exactly one per row, in the same order"
        )


def _colours_rgba(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "OUS" or array.ndim == 1:
        from matplotlib.colors import to_rgba

        rgba = np.empty((len(array), 4), dtype=np.float64)
        for row, colour in enumerate(array):
            try:
                rgba[row] = to_rgba(colour)
            except ValueError:
                raise ProjectorExportError(
                    f"sprite colour at row {row} is {str(colour)!r}, which is not a colour; "
                    "use '#rrggbb', a named colour, or an RGB(A) tuple"
                ) from None
        array = rgba
    elif array.shape[1] == 3:
        alpha = 255 if array.dtype.kind in "iu" else 1.0
        array = np.concatenate([array, np.full((len(array), 1), alpha, array.dtype)], axis=1)
    return _to_uint8(array, "colour")


def _images_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.shape[-1] not in (1, 3, 4):
        raise ProjectorExportError(
            f"sprite images have {array.shape[-1]} channels; use 1 (grey), 3 (RGB) or 4 (RGBA)"
        )
    return _to_uint8(array, "image")


def _to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise ProjectorExportError(
            f"sprite {what}s have dtype {array.dtype}; use uint8 (0-255) or floats in [0, 1]"
        )
    low, high = (0, 255) if array.dtype.kind in "iu" else (0.0, 1.0)
    outside = ~((array >= low) & (array <= high))
    if outside.any():
        row = int(np.argwhere(outside)[0][0])
        raise ProjectorExportError(
            f"sprite {what} at row {row} holds {array[row].ravel()[outside[row].ravel()][0].item()!r}, "
            f"outside [{low}, {high}]; use uint8 (0-255) or floats in [0, 1]"
        )
    if array.dtype.kind == "f":
        array = np.rint(array * 255.0)
    return array.astype(np.uint8)


def _shrink(images: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[images.shape[-1]]
    out = np.empty((len(images), height, width, images.shape[-1]), dtype=np.uint8)
    for i, image in enumerate(images):
        pil = Image.fromarray(image.squeeze(-1) if mode == "L" else image, mode)
        out[i] = np.asarray(pil.resize((width, height), Image.BOX)).reshape(out.shape[1:])
    return out


def _tile(cells: np.ndarray, grid: int, dim: tuple[int, int], repeat: int = 1) -> Sprite:
    """Lay cells (N, h, w, C) row-major on a grid x grid board, scaling each by `repeat`."""
    count, height, width, channels = cells.shape
    board = np.zeros((grid * grid, height, width, channels), dtype=np.uint8)
    board[:count] = cells
    board = board.reshape(grid, grid, height, width, channels).transpose(0, 2, 1, 3, 4)
    image = board.reshape(grid * height, grid * width, channels)
    if repeat > 1:
        image = np.repeat(np.repeat(image, repeat, axis=0), repeat, axis=1)
    return Sprite(image=image, single_image_dim=(int(dim[0]), int(dim[1])))
