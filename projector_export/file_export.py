"""`export_file`: what `projector-export export` does, from Python: the vectors of a file, exported.

The readers (`inputs`) turn a `.npy` array, a vector TSV, word2vec/GloVe text or a `.keras`
model into matrices and labels; this joins them with a labels file and writes the run with
`export_embeddings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from projector_export.arrays import per_point_rows
from projector_export.errors import ProjectorExportError
from projector_export.export import Embedding, ExportResult, export_embeddings
from projector_export.inputs.sources import read_labels, read_source, warn_if_large


def export_file(
    input_path: str,
    run_dir: str,
    *,
    metadata: str | None = None,
    name: str | None = None,
    max_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Export the vectors of a file as a run folder: what `projector-export export` does.

    Args:
        input_path: a `.npy` array, a `.tsv` of vectors, a word2vec/GloVe text
            file (the words become the labels) or a `.keras` model (each
            Embedding layer becomes a tensor named after its layer).
        run_dir: the run folder to write, e.g. `logs/glove`.
        metadata: a labels file: one label a line, or a TSV whose first line
            (with tabs) is the header. Used for every tensor with as many rows.
        name: the tensor's name, for an input with a single tensor.
        max_rows: keep only the first rows (of the vectors and the labels).
        progress: called with the number of rows read so far.

    Raises:
        ProjectorExportError: bad input, naming the file and line; nothing is written then.

    Example:

    ```python
    import numpy as np
    from projector_export import export_file

    np.save("vectors.npy", np.random.default_rng(0).normal(size=(100, 16)))
    result = export_file("vectors.npy", "logs/mine", name="words", max_rows=50)
    print(result.run_dir, result.shape)  # .../logs/mine (50, 16)
    ```
    """
    input_path = os.fspath(input_path)
    metadata = None if metadata is None else os.fspath(metadata)
    source = read_source(input_path, max_rows=max_rows, progress=progress)
    warn_if_large(source, max_rows)
    labels = source.labels
    if metadata is not None:
        labels = read_labels(metadata)
        if max_rows:
            labels = _first_rows(labels, max_rows)
    tensors = source.tensors
    if name is not None:
        if len(tensors) > 1:
            raise ProjectorExportError(
                f"{input_path} has {len(tensors)} Embedding layers ({', '.join(tensors)}); "
                "`name=` renames a single tensor, so leave it out"
            )
        tensors = {name: next(iter(tensors.values()))}
    rows = None if labels is None else per_point_rows(labels)
    if metadata is not None and not any(len(vectors) == rows for vectors in tensors.values()):
        counts = [len(vectors) for vectors in tensors.values()]
        sizes = _count(counts[0], "vector") if len(counts) == 1 else " and ".join(
            f"{_count(len(vectors), 'vector')} in {tensor!r}" for tensor, vectors in tensors.items()
        )
        header = ", not counting its header line" if isinstance(labels, dict) else ""
        raise ProjectorExportError(
            f"{metadata} has {_count(rows, 'label')}{header}, but {input_path} has {sizes}; "
            "give one label per vector, in the same order, or pass `max_rows=` to cut both"
        )
    return export_embeddings(
        run_dir,
        [Embedding(vectors, labels if rows == len(vectors) else None, name=tensor) for tensor, vectors in tensors.items()],
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")

def _first_rows(metadata, rows: int):
    if isinstance(metadata, dict):
        return {name: values[:rows] for name, values in metadata.items()}
    return metadata[:rows]
