"""Example embeddings trained with Keras and exported for TensorBoard's Embedding Projector.

- `training.colours`, `training.imdb`: one package a model, each read top to bottom as
  data -> model -> job, with a TensorFlow-free `options` module for its command;
- `training.loop`: the one training loop (`fit`) both models use;
- `training.callbacks`: snapshots of the embedding, kNN agreement, the epoch line, the
  progress bar;
- `training.strategies`: `tf.distribute` strategies by name;
- `training.plots`: scatter plots and animations of coloured points;
- `training.cli`: the `projector-train` command, a registry of the models' options.
"""
