"""Example embeddings trained with Keras and exported for TensorBoard's Embedding Projector.

One module a dataset (`training.colours`, `training.imdb`), shared plotting (`training.plots`) and the
`projector-train` command line (`training.cli`).
"""
