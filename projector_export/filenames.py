"""The names of the files a run folder (or a standalone export) holds that several layers need:
the file layer recognises folders of earlier versions by them, the format writes them."""

CONFIG_FILENAME = "projector_config.pbtxt"  # which tensor goes with which metadata, sprite, bookmarks
CHECKPOINT_STATE_FILENAME = "checkpoint"  # names the latest checkpoint: what tf.train.latest_checkpoint reads
CHECKPOINT_PREFIX = "embeddings.ckpt"  # the checkpoint's files: embeddings.ckpt-N.index, .data-00000-of-00001
STANDALONE_CONFIG_FILENAME = "projector_config.json"  # read by the standalone projector
VECTORS_FILENAME = "vectors.tsv"  # the Load button of projector.tensorflow.org
# The projector run's folder inside a Keras log dir or a projector-train run (see ProjectorCallback on why).
PROJECTOR_SUBFOLDER = "projector"
