"""Export embeddings so that TensorBoard's Embedding Projector opens them correctly.

The write side and the read side mirror each other: `export_embedding(s)` and
`export_file` write a run folder, `read_embedding` reads a tensor of one back;
`export_standalone` writes the standalone projector's files; `add_layout` and
`add_clusters` add bookmarks (and a `cluster` column) to a run; `validate` checks a
log dir as TensorBoard reads it. `training_run` writes a training job's folder whole
(see `projector_export.files`, the file layer every read and write passes).
"""

from projector_export.clustering import installed as clusters_available
from projector_export.clusters import ClustersResult, add_clusters
from projector_export.errors import ProjectorExportError
from projector_export.export import Embedding, ExportedTensor, ExportResult, export_embedding, export_embeddings
from projector_export.file_export import export_file
from projector_export.filenames import PROJECTOR_SUBFOLDER
from projector_export.files.staging import check_training_run, training_run
from projector_export.format.metadata import MetadataTable, escape_label, unescape_label
from projector_export.format.sprite import make_sprite
from projector_export.layout import LayoutResult, add_layout
from projector_export.neighbours import Neighbour, nearest_neighbours
from projector_export.read import StoredEmbedding, read_embedding
from projector_export.reductions import INSTALL as LAYOUTS_INSTALL
from projector_export.reductions import Layout
from projector_export.reductions import installed as layouts_available
from projector_export.standalone import StandaloneResult, export_standalone
from projector_export.validation.logdir import Problem, ValidationReport, validate

__all__ = [
    "LAYOUTS_INSTALL",
    "PROJECTOR_SUBFOLDER",
    "ClustersResult",
    "Embedding",
    "ExportResult",
    "ExportedTensor",
    "Layout",
    "LayoutResult",
    "MetadataTable",
    "Neighbour",
    "Problem",
    "ProjectorCallback",
    "ProjectorExportError",
    "StandaloneResult",
    "StoredEmbedding",
    "ValidationReport",
    "add_clusters",
    "add_layout",
    "check_training_run",
    "clusters_available",
    "escape_label",
    "export_embedding",
    "export_embeddings",
    "export_file",
    "export_standalone",
    "layouts_available",
    "make_sprite",
    "nearest_neighbours",
    "read_embedding",
    "training_run",
    "unescape_label",
    "validate",
]


def __getattr__(name: str):
    # The callback needs Keras; import it only when asked for.
    if name == "ProjectorCallback":
        from projector_export.callback import ProjectorCallback

        return ProjectorCallback
    raise AttributeError(f"module 'projector_export' has no attribute {name!r}")
