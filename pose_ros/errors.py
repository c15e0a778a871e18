"""The project's error type for bad input: the CLI prints its message as one line and exits 1."""

from __future__ import annotations


class PoseRosError(Exception):
    """Bad input or configuration, with a message that names the cause and the fix.

    Raise it (or a subclass) for problems a user can act on: an unreadable file, a missing topic,
    an unsupported encoding, a missing model file. Programming errors stay ordinary exceptions.
    """
