"""IMDB review sentiment over an 8k subword vocabulary, with the embedding in the projector.

The TensorFlow word-embeddings notebook's job, in the order it runs:

- `training.imdb.data`: the reviews, from the Stanford archive or `tfds.load('imdb_reviews')`;
- `training.imdb.vocabulary`: the subword vocabulary (tfds's `SubwordTextEncoder`), loaded,
  or built from the training reviews and saved, and the label of every id;
  `training.imdb.subwords` builds it as tfds builds it, in seconds, and
  `training.imdb.encoding` gives the ids of many reviews at once;
- `training.imdb.pipeline`: the reviews tokenised once, a share held out, batched by length
  as a `tf.data` pipeline;
- `training.imdb.model`: Embedding(vocab, 16) -> average -> Dense(16, relu) -> Dense(1),
  and the sentiment it gives each token on its own;
- `training.imdb.job`: `train_imdb`, which fits with `training.loop.fit`, keeps the epoch
  best on the held-out reviews, scores the test reviews once and exports the run;
- `training.imdb.options`: `projector-train imdb`, without TensorFlow.

The defaults below are shared by the job and its command line, which must not import
TensorFlow to show them.

Example:

```python
from training.imdb.job import train_imdb

run = train_imdb(aclimdb="aclImdb_v1.tar.gz", epochs=10, logdir="logs")
print(run.run_dir, run.best_epoch, run.test_accuracy)
```
"""

DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 10
DEFAULT_VOCAB_SIZE = 2**13
# Chosen by benchmarks/imdb_accuracy.py (README, "The IMDB subword model"): the share of the
# training reviews held out to choose the epoch, Adam's learning rate (the notebook's is
# 1e-3) and the share of a review's tokens left out of its average while training.
DEFAULT_VALIDATION_SPLIT = 0.1
DEFAULT_LEARNING_RATE = 3e-4
DEFAULT_TOKEN_DROPOUT = 0.5
ACLIMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
