"""Findings about a workspace, located by their path in the model."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning: what is wrong, about which object, and where.

    ``path`` locates the value in the plant document (e.g. ``("conduits", 2,
    "zones", 1)``); the workspace layer turns it into file:line:column.
    """

    severity: Severity
    code: str
    message: str
    object: str = ""
    path: tuple[Any, ...] = ()
    file: str | None = None
    line: int = 0
    column: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def located(self, file: str, line: int, column: int) -> Diagnostic:
        return Diagnostic(
            self.severity, self.code, self.message, self.object, self.path, file, line, column, self.extra
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "object": self.object,
            "message": self.message,
        }

    def format(self) -> str:
        where = self.file or "<workspace>"
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        obj = f" {self.object}:" if self.object else ""
        return f"{where}: {self.severity} [{self.code}]{obj} {self.message}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or ''."""
    matches = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
