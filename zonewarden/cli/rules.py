"""`zonewarden rules`: firewall rulesets generated from the conduits, and existing configurations checked."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Segmentation engineering: firewall rules from conduits, and firewall configurations checked against them.",
    no_args_is_help=True,
)
