"""Colour-name embeddings learnt from pairs of colours labelled similar or not.

The job of the blog post "Training a Neural Network Embedding Layer with Keras" (2020),
in the order it runs:

- `training.colours.data`: the colour table (the bundled X11 colours or a CSV) and the
  labelled pairs;
- `training.colours.model`: Embedding -> squared distance -> Dense(1, sigmoid);
- `training.colours.job`: `train_colours`, which fits each model with `training.loop.fit`
  and writes its run: Keras's logs, the projector export and plots;
- `training.colours.options`: `projector-train colours`, without TensorFlow.

The defaults below are shared by the job and its command line, which must not import
TensorFlow to show them.

Example:

```python
from training.colours.job import train_colours

for run in train_colours(dims=(2,), pairs=100_000, epochs=5, logdir="logs"):
    print(run.run_dir, run.knn)
```
"""

DEFAULT_DIMS = (2, 3)
DEFAULT_PAIRS = 1_000_000
DEFAULT_EPOCHS = 10
# The post's seeds: 7 for its 2-D model, 1 for its 3-D one; 0 for other sizes.
DEFAULT_SEEDS = {2: 7, 3: 1}
