"""OT-aware detections: one module per detector, registered in this one table.

Each detector reads a :class:`~zonewarden.detect.base.Context` (one capture file's discovery,
the traffic check's verdicts and the plant model) and returns alerts carrying severity, host,
zone, time, file and packet number, a plain explanation and ATT&CK for ICS technique ids.
Add a detector by writing its module (with ``DETECTOR``) and listing it below.
"""

from __future__ import annotations

from zonewarden.detect import (
    change_windows,
    cleartext_remote,
    cpu_state,
    firmware,
    new_cross_zone,
    new_host,
    opcua_none,
    program_transfer,
    scan,
    unauthorized_command,
)
from zonewarden.detect.base import Alert, Baseline, Context, Detector

DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        new_host.DETECTOR,
        new_cross_zone.DETECTOR,
        unauthorized_command.DETECTOR,
        program_transfer.DETECTOR,
        cpu_state.DETECTOR,
        firmware.DETECTOR,
        cleartext_remote.DETECTOR,
        scan.DETECTOR,
        opcua_none.DETECTOR,
    )
}


def detect(ctx: Context, only: list[str] | None = None) -> list[Alert]:
    """Run every registered detector (or those named in ``only``) on one capture file's context."""
    alerts: list[Alert] = []
    for name, detector in DETECTORS.items():
        if only is None or name in only:
            alerts.extend(detector.run(ctx))
    change_windows.apply(ctx, alerts)
    alerts.sort(key=lambda a: (a.file, a.packet if a.packet is not None else 0, a.detector))
    return alerts


__all__ = ["DETECTORS", "Alert", "Baseline", "Context", "Detector", "detect"]
