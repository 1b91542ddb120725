"""Exception tree shared by all layers.

Every error a user can cause carries the place it happened (file, line, column
or row) so the shell can print it without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in an input file: 1-based line and column (column 0 = unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.file}:{self.line}:{self.column}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


class ZoneWardenError(Exception):
    """Base of every error ZoneWarden raises on purpose."""


class InputError(ZoneWardenError):
    """Input a user gave cannot be used; carries where."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CatalogError(ZoneWardenError):
    """The shipped catalog or a user's overlay file is inconsistent."""


class UnknownIdError(ZoneWardenError):
    """An identifier looked up in a catalog or model does not exist."""
