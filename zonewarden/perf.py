"""Performance helpers shared by the bulk paths."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many long-lived objects.

    Loading a big plant creates hundreds of thousands of objects that all stay
    alive; each full collection walks all of them, which made loading three times
    slower. Reference counting still frees everything that is not in a cycle.
    The collector is restored (not forced to run) afterwards; loaded objects are
    frozen so later collections skip them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
