"""The notebook's review classifier: Embedding -> average -> Dense(16, relu) -> Dense(1).

`build_model` and `compile_model` as the notebook has them (padding masked out of the
average); `token_sentiment` reads the model's opinion of each token on its own, which the
projector export shows as a metadata column.
"""

from __future__ import annotations

import keras
import numpy as np

from training.imdb import DEFAULT_LEARNING_RATE

EMBEDDING_DIM = 16


def build_model(vocab_size: int, embedding_dim: int = EMBEDDING_DIM) -> keras.Model:
    """The notebook's model, padding masked out of the average: Embedding -> average ->
    Dense(16, relu) -> Dense(1) (a logit). Call `keras.utils.set_random_seed` first for
    repeatable starting weights, and build it inside a strategy's scope to distribute it.
    (The job trains it on parts of reviews: `training.imdb.pipeline.make_dataset`'s
    `token_dropout`.)"""
    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding"),
            keras.layers.GlobalAveragePooling1D(name="average"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="logit"),
        ],
        name="imdb_subwords",
    )


def compile_model(model: keras.Model, learning_rate: float = DEFAULT_LEARNING_RATE) -> None:
    """Adam, binary cross-entropy on the logit, accuracy: as the notebook compiles it."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        # "accuracy" would threshold the logit at 0.5 (P > 0.62); a logit's boundary is 0.
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )


def embedding_vectors(model: keras.Model) -> np.ndarray:
    """A copy of the model's token vectors, one row per id."""
    return np.array(model.get_layer("embedding").embeddings.numpy(), copy=True)


def token_sentiment(model: keras.Model) -> np.ndarray:
    """P(positive) the model gives each token on its own, one value per embedding row.

    A review of one token averages to that token's vector, so the head sees the vector
    itself. Row 0, padding, stands for a review with nothing left after masking, whose
    average (0/0) the model leaves undefined: the head gets a zero vector there.
    """
    vectors = embedding_vectors(model)
    vectors[0] = 0.0
    logits = model.get_layer("logit")(model.get_layer("hidden")(vectors))
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))[:, 0].astype(np.float64)
