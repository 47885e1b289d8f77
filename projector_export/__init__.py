"""Export embeddings so that TensorBoard's Embedding Projector opens them correctly."""

from projector_export.errors import ProjectorExportError
from projector_export.export import Embedding, ExportedTensor, ExportResult, export_embedding, export_embeddings
from projector_export.metadata import escape_label, unescape_label
from projector_export.sprite import make_sprite
from projector_export.validate import Problem, ValidationReport, validate

__all__ = [
    "Embedding",
    "ExportResult",
    "ExportedTensor",
    "Problem",
    "ProjectorExportError",
    "ValidationReport",
    "escape_label",
    "export_embedding",
    "export_embeddings",
    "make_sprite",
    "unescape_label",
    "validate",
]
