"""Console helpers shared by the CLI commands."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped output (files, CI logs) gets a generous fixed width instead of 80 columns.
console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay one line each (grep-able)


def fail(message: str, code: int = 1) -> None:
    """Print an error for the user and exit with ``code`` (1 bad input, 2 usage)."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise SystemExit(code)


def sl_cell(level: int | None) -> str:
    if level is None:
        return "[dim]-[/]"
    colour = {0: "dim", 1: "green", 2: "yellow", 3: "dark_orange", 4: "red"}[level]
    return f"[{colour}]{level}[/]"
