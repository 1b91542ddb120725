"""Planned change windows (``change_windows`` in plant.yaml) applied to the engineering detections.

A program download, a CPU stop or restart, a firmware update or a write is expected during a
maintenance window and alarming outside it. Alerts of :data:`ENGINEERING` detectors whose target
is covered by a window (by zone, by asset, or the whole plant when the window names neither) at
the alert's time become severity ``info`` and name the window and its ticket. When windows are
declared for the target but none holds the time, the alert says so and keeps its severity.
Window times without a time zone are read as UTC, the clock of capture timestamps.
"""

from __future__ import annotations

import datetime as dt

from zonewarden.detect.base import Alert, Context
from zonewarden.model.plant import ChangeWindow

ENGINEERING = frozenset({"program-transfer", "cpu-state", "firmware-update", "unauthorized-command"})


def _epoch(moment: dt.datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _covers(ctx: Context, window: ChangeWindow, alert: Alert) -> bool:
    if not window.zones and not window.assets:
        return True
    asset = ctx.asset_by_ip.get(alert.target or "")
    if asset is not None and asset.id in window.assets:
        return True
    zone = alert.target_zone or (ctx.resolver.zone_of.get(asset.id) if asset else None)
    return zone is not None and zone in window.zones


def apply(ctx: Context, alerts: list[Alert]) -> None:
    """Mark, in place, the engineering alerts inside or outside the plant's change windows."""
    windows = ctx.plant.change_windows
    if not windows:
        return
    for alert in alerts:
        if alert.detector not in ENGINEERING or alert.time is None:
            continue
        relevant = [w for w in windows if _covers(ctx, w, alert)]
        if not relevant:
            continue
        inside = next((w for w in relevant if _epoch(w.start) <= alert.time <= _epoch(w.end)), None)
        if inside is not None:
            alert.severity = "info"
            ticket = f", {inside.ticket}" if inside.ticket else ""
            alert.explanation += f"; inside change window '{inside.id}'{ticket}: planned"
            alert.details["change_window"] = inside.id
        else:
            names = ", ".join(f"'{w.id}'" for w in relevant)
            alert.explanation += f"; outside the change windows declared for it ({names})"
            alert.details["change_window"] = None
