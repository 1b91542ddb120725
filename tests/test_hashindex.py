"""The numpy hash index of the flow table: the same answers as a dict, whatever the keys and batches."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zonewarden.traffic.hashindex import HashIndex


class Crowded(HashIndex):
    """Every key's home is slot 0: probes run long and every key of a batch races for the same slots."""

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return np.zeros(len(keys), dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=300), max_size=8), st.booleans())
def test_agrees_with_a_dict(batches, crowded):
    """Batches of keys put (those not held yet) and then looked up, with keys not held."""
    index, reference = (Crowded if crowded else HashIndex)(slots=8), {}
    for keys in batches:
        new = list(dict.fromkeys(k for k in keys if k not in reference))
        rows = list(range(len(reference), len(reference) + len(new)))
        index.put(np.array(new, dtype=np.uint64), np.array(rows, dtype=np.int64))
        reference.update(zip(new, rows, strict=True))
        probe = np.array(keys + [k ^ 1 for k in keys], dtype=np.uint64)
        expected = [reference.get(k, -1) for k in probe.tolist()]
        assert index.get(probe).tolist() == expected
        assert len(index) == len(reference) and 2 * len(index) <= len(index.rows)


def test_zero_and_the_largest_key():
    index = HashIndex(slots=2)
    index.put(np.array([0, 2**64 - 1], dtype=np.uint64), np.array([7, 8]))
    assert index.get(np.array([2**64 - 1, 0, 5], dtype=np.uint64)).tolist() == [8, 7, -1]
