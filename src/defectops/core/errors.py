"""The two kinds of failure a user can meet, so the CLI can tell them apart by type.

A :class:`UserError` is a mistake the user can fix (a bad file, a missing column, a bad value):
the CLI prints its one-line message and exits with code 2. Anything else is an internal fault and
exits with code 1.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input; the message names the thing and the fix."""

    exit_code = 2


class IntegrityError(UserError):
    """A model file does not match the checksum recorded when it was written."""
