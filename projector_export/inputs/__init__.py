"""The vectors people arrive with: `.npy` arrays, vector TSVs, word2vec/GloVe text, Keras models.

`sources.read_source` chooses the reader by a file's extension; each reader holds at most the
matrix it returns plus a bounded working set.
"""
