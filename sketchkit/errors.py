"""Exceptions for bad user input. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations

__all__ = ["InputError", "DataFormatError"]


class InputError(ValueError):
    """Bad input from the user (a file, an option, a checkpoint). The message names the file and the problem."""


class DataFormatError(InputError):
    """A data file that cannot be parsed: malformed line, truncated archive, wrong-shaped array, corrupt image."""
