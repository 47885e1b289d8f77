"""The run format on disk, one module per kind of file: what TensorBoard's projector reads.

- `tensor_bundle`: TensorFlow's checkpoint format (index and data files), without TensorFlow;
- `checkpoint_state`: the `checkpoint` file naming the latest checkpoint;
- `checkpoint`: a run's checkpoint: tensor names and keys, written and read through the file layer;
- `event_file`: the event file without which `tensorboard --logdir` lists no run;
- `config`: `projector_config.pbtxt`, which tensor goes with which metadata, sprite and bookmarks;
- `metadata`: the metadata TSV, labels escaped so that the projector reads them back;
- `sprite`: the sprite image of per-point pictures or colour swatches;
- `bookmarks`: saved views (the projector's `State`), read within bounds and merged;
- `bookmark_checks`: what stops bookmarks from loading, as the projector's loader reads them;
- `page_columns`: which metadata columns the page labels points by and offers to colour by;
- `table`: the LevelDB table of a checkpoint's index.
"""
