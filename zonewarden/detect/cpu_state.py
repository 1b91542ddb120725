"""CPU stop, start and restart: S7 PLC stop/start, DNP3 cold/warm restart, Modbus FC 8 restart,
CIP reset and run/program mode changes."""

from __future__ import annotations

from zonewarden.detect.base import Alert, Context, event_alert, requests

_TEXT = {
    "stop": (
        "critical",
        "stopped the CPU of (or put into program mode)",
        ["T0858", "T0881"],
        "the process it runs stops",
    ),
    "start": (
        "high",
        "started the CPU of (or put into run mode)",
        ["T0858"],
        "its outputs start acting on the process",
    ),
    "restart": ("high", "restarted", ["T0816"], "the process it runs is interrupted"),
}


class CpuState:
    name = "cpu-state"
    title = "Controller stop, start or restart"

    def run(self, ctx: Context) -> list[Alert]:
        out = []
        for ev in requests(ctx, set(_TEXT)):
            severity, verb, techniques, effect = _TEXT[ev.operation or ""]
            text = f"{ev.client} {verb} {ev.server} ({ev.protocol}: {ev.function}); {effect}"
            out.append(event_alert(ctx, ev, self.name, severity, text, techniques))
        return out


DETECTOR = CpuState()
