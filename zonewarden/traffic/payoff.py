"""Whether a cache pays for itself, judged on its recent uses: the one rule the memo of
:mod:`~zonewarden.traffic.dissection` and the repeat filter of :mod:`~zonewarden.traffic.repeats`
go by when traffic stops repeating itself (a network of devices that each say something of their
own).
"""

from __future__ import annotations


class Payoff:
    """Uses and hits over an exponential window: both are halved when ``window`` uses are counted, so older
    ones weigh less. The cache pays while it has fewer than ``window // 2`` uses to go by, or at least one
    hit per ``ratio`` uses; while it does not, one decision in ``probe`` (by the caller's ``tick``) still
    says yes, so that the cache is taken again when hits come back."""

    __slots__ = ("hits", "probe", "ratio", "uses", "window")

    def __init__(self, window: int, ratio: int, probe: int) -> None:
        self.window, self.ratio, self.probe = window, ratio, probe
        self.uses = 0
        self.hits = 0

    def pays(self, tick: int) -> bool:
        if self.uses >= self.window:
            self.uses >>= 1
            self.hits >>= 1
        if self.uses < self.window // 2 or self.hits * self.ratio >= self.uses:
            return True
        return tick % self.probe == 0
