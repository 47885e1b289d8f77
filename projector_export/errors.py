"""The one exception type for what a user of the toolkit did wrong."""


class ProjectorExportError(ValueError):
    """Bad input or a broken run: the message says what, where and how to fix it."""


# The fix of most broken runs, ending their messages.
REEXPORT = "export the run again with projector_export.export_embedding(s) or `projector-export export`"
