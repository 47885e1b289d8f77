"""`validate`: a log dir checked the way TensorBoard's projector reads it.

- `logdir`: the walk over the log dir, each run and what interrupted exports left;
- `tensor_checks`: the checks of one tensor (shape, values, metadata, sprite, bookmarks);
- `report`: the problems found, with their run, tensor and fix.
"""
