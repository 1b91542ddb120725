"""Opening a workspace for a command: the checks and messages every command shares."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from zonewarden.cli.output import err_console, fail
from zonewarden.errors import InputError
from zonewarden.workspace.load import Workspace, load_workspace


def open_workspace(workspace: Path, purpose: str, strict: bool = False, day: dt.date | None = None) -> Workspace:
    """Load ``workspace`` or exit with a message (2: no such folder, 1: it cannot be parsed).

    With validation errors: ``strict`` commands list the first ones and exit 1 ("``purpose``: rules are
    not generated from an invalid model"); the others warn and go on with what loaded."""
    if not workspace.exists():
        fail(f"workspace '{workspace}' does not exist", 2)
    try:
        ws = load_workspace(workspace)
    except InputError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits
    errors = [d for d in (ws.check(day) if day else ws.check()) if d.severity == "error"]
    if errors and strict:
        for d in errors[:10]:
            err_console.print(d.format(), markup=False)
        fail(f"the workspace has {len(errors)} validation error(s); {purpose}. Run: zonewarden validate {workspace}")
    if errors:
        err_console.print(
            f"[yellow]warning:[/] the workspace has {len(errors)} validation error(s); {purpose}. "
            f"Run: zonewarden validate {workspace}"
        )
    return ws
