"""The one exception type for errors a user can cause (bad file, unsupported layer, bad data)."""


class SnncError(Exception):
    """A problem with the user's input. The CLI prints its message on one line and exits 2."""
