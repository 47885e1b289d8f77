"""The file layer: every read and every write of projector-export passes here.

- `fs`: the file system itself, local paths through `os`, URLs through `tf.io.gfile`;
- `paths`: folders named plainly, files confined to the folder they belong to;
- `reading`: regular files only, sizes capped, text decoded strictly;
- `writing`: new files, and files this tool wrote; anything else refused;
- `records`: what the tool wrote in a folder, so that nothing else is ever deleted;
- `staging`: a folder written whole beside its target, locked (`lock`), swapped into place;
- `leftovers`: what killed writes leave beside a folder, and their repair.

Programs built on the toolkit (the `training` jobs) read their inputs and write their files
through the names below, so the same rules hold for them.
"""

from projector_export.files import fs
from projector_export.files.reading import Skipped, file_size, files_in, open_file, read_bytes, read_text, utf8_lines
from projector_export.files.writing import write_file

__all__ = [
    "Skipped", "file_size", "files_in", "fs", "open_file", "read_bytes", "read_text", "utf8_lines", "write_file",
]
