"""Firmware update of a controller or module."""

from __future__ import annotations

from zonewarden.detect.base import Alert, Context, event_alert, requests


class Firmware:
    name = "firmware-update"
    title = "Device firmware update"

    def run(self, ctx: Context) -> list[Alert]:
        return [
            event_alert(
                ctx,
                ev,
                self.name,
                "critical",
                f"{ev.client} sent firmware to {ev.server} ({ev.protocol}: {ev.function}); "
                "the device may be in update mode and not controlling",
                ["T0857", "T0800", "T0839"],
            )
            for ev in requests(ctx, {"firmware-update"})
        ]


DETECTOR = Firmware()
