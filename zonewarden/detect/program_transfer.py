"""PLC program download (logic loaded into a controller) and upload (logic read out of it)."""

from __future__ import annotations

from zonewarden.detect.base import Alert, Context, event_alert, requests


class ProgramTransfer:
    name = "program-transfer"
    title = "PLC program download or upload"

    def run(self, ctx: Context) -> list[Alert]:
        out = []
        for ev in requests(ctx, {"program-download", "program-upload"}):
            if ev.operation == "program-download":
                text = (
                    f"{ev.client} loaded logic or configuration into {ev.server} ({ev.protocol}: {ev.function}); "
                    "confirm it was a planned change"
                )
                out.append(event_alert(ctx, ev, self.name, "high", text, ["T0843"]))
            else:
                text = f"{ev.client} read the program out of {ev.server} ({ev.protocol}: {ev.function})"
                out.append(event_alert(ctx, ev, self.name, "medium", text, ["T0845"]))
        return out


DETECTOR = ProgramTransfer()
