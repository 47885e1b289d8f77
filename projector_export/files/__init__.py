"""The file layer: every read and every write of projector-export passes here.

- `fs`: the file system itself, local paths through `os`, URLs through `tf.io.gfile`;
- `paths`: folders named plainly, files confined to the folder they belong to;
- `reading`: regular files only, sizes capped, text decoded strictly;
- `writing`: new files, and files this tool wrote; anything else refused;
- `records`: what the tool wrote in a folder, so that nothing else is ever deleted;
- `staging`: a folder written whole beside its target, locked (`lock`), swapped into place;
- `leftovers`: what killed writes leave beside a folder, and their repair.
"""
