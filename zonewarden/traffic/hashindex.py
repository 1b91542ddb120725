"""A map from 64-bit keys to rows, looked up and filled a batch of keys at a time with numpy.

Open addressing with linear probing over two columns (key, row; row -1 marks an empty
slot), kept at most half full. A batch's lookups advance together: each round reads one
slot per key still probing, so a batch costs a few vectorised passes instead of a Python
dict operation per key (the flow table of a scan gets a million new flows).
"""

from __future__ import annotations

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the home slot is the top bits of key * _MIX


class HashIndex:
    """uint64 key -> row (int64 >= 0)."""

    def __init__(self, slots: int = 1024) -> None:
        self._alloc(slots)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _alloc(self, slots: int) -> None:
        self.keys = np.zeros(slots, dtype=np.uint64)
        self.rows = np.full(slots, -1, dtype=np.int64)
        self.mask = slots - 1
        self.shift = np.uint64(64 - (slots.bit_length() - 1))

    def _home(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys * _MIX) >> self.shift).astype(np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key; -1 for keys not held."""
        out = np.full(len(keys), -1, dtype=np.int64)
        act = np.arange(len(keys))
        pos = self._home(keys)
        while len(act):
            rows = self.rows[pos]
            hit = (rows >= 0) & (self.keys[pos] == keys[act])
            out[act[hit]] = rows[hit]
            go = np.flatnonzero((rows >= 0) & ~hit)  # an occupied slot of another key: probe on
            act, pos = act[go], (pos[go] + 1) & self.mask
        return out

    def put(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add keys that are not held and are distinct, with their rows."""
        if 2 * (self.size + len(keys)) > len(self.rows):
            slots = len(self.rows)
            while 2 * (self.size + len(keys)) > slots:
                slots *= 2
            held = np.flatnonzero(self.rows >= 0)
            old_keys, old_rows = self.keys[held], self.rows[held]
            self._alloc(slots)
            self._place(old_keys, old_rows)
        self._place(keys, rows)
        self.size += len(keys)

    def _place(self, keys: np.ndarray, rows: np.ndarray) -> None:
        act = np.arange(len(keys))
        pos = self._home(keys)
        while len(act):
            free = np.flatnonzero(self.rows[pos] < 0)
            lost = np.ones(len(act), dtype=bool)
            if len(free):
                slot, first = np.unique(pos[free], return_index=True)  # keys racing for a slot: the first wins
                won = free[first]
                self.keys[slot], self.rows[slot] = keys[act[won]], rows[act[won]]
                lost[won] = False
            act, pos = act[lost], (pos[lost] + 1) & self.mask
