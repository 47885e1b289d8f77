"""Export embeddings so that TensorBoard's Embedding Projector opens them correctly."""

from projector_export.clusters import ClustersResult, add_clusters
from projector_export.errors import ProjectorExportError
from projector_export.export import Embedding, ExportedTensor, ExportResult, export_embedding, export_embeddings
from projector_export.format.metadata import escape_label, unescape_label
from projector_export.format.sprite import make_sprite
from projector_export.layout import LayoutResult, add_layout
from projector_export.neighbours import Neighbour, nearest_neighbours
from projector_export.reductions import Layout
from projector_export.validation.logdir import Problem, ValidationReport, validate

__all__ = [
    "ClustersResult",
    "Embedding",
    "Neighbour",
    "ProjectorCallback",
    "ExportResult",
    "ExportedTensor",
    "Layout",
    "LayoutResult",
    "Problem",
    "ProjectorExportError",
    "ValidationReport",
    "add_clusters",
    "add_layout",
    "escape_label",
    "export_embedding",
    "export_embeddings",
    "make_sprite",
    "nearest_neighbours",
    "unescape_label",
    "validate",
]


def __getattr__(name: str):
    # The callback needs Keras; import it only when asked for.
    if name == "ProjectorCallback":
        from projector_export.callback import ProjectorCallback

        return ProjectorCallback
    raise AttributeError(f"module 'projector_export' has no attribute {name!r}")
