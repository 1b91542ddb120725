"""`zonewarden traffic`: observed traffic judged against the zones and conduits, with OT-aware detections."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Traffic against the model: conduits verified from captures, and OT-aware detections.",
    no_args_is_help=True,
)
