"""The one exception type for what a user of the toolkit did wrong."""


class ProjectorExportError(ValueError):
    """Bad input or a broken run: the message says what, where and how to fix it."""
