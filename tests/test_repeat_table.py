"""The repeat filter's key table (numpy open addressing): it holds exactly the keys put in, finds them
whatever their hash, and a full or growing filter still gives the results of dissecting every packet."""

from __future__ import annotations

import functools
import json
import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import zonewarden.traffic.discover as discover_module
import zonewarden.traffic.repeats as repeats
from zonewarden.traffic.capture import open_capture
from zonewarden.traffic.discover import discover
from zonewarden.traffic.repeats import RepeatFilter

POOL = 200  # distinct keys
# few distinct g values (0 among them): many keys share a g, and so a home slot, and probe past each other
_G = [0, 1, 2**63, 0x9E3779B97F4A7C15, 12345]


def _pool(choices: list[int]) -> tuple[np.ndarray, ...]:
    ids = np.arange(POOL, dtype=np.int64)
    g = np.array([_G[c % len(_G)] for c in choices], dtype=np.uint64)
    flow = ids % 7  # flow, key1 and key2: together distinct per key, each alone shared by several
    key1 = (ids // 7 % 5).astype(np.uint64) * np.uint64(0x100000001)
    key2 = (ids // 35).astype(np.uint64)
    return g, flow, key1, key2


def _check(rf: RepeatFilter, pool: tuple[np.ndarray, ...], model: dict[int, int]) -> None:
    g, flow, key1, key2 = pool
    slot, free = rf._find(g, flow, key1, key2)
    held = np.array(sorted(model), dtype=np.int64)
    assert sorted(np.flatnonzero(slot >= 0).tolist()) == held.tolist()
    assert (free[slot >= 0] == -1).all() and (rf.order[free[slot < 0]] == 0).all()
    s = slot[held]
    assert len(set(s.tolist())) == len(held) == rf.held == np.count_nonzero(rf.order)
    assert (rf.key[s] == g[held]).all() and (rf.flow[s] == flow[held]).all()
    assert (rf.key1[s] == key1[held]).all() and (rf.key2[s] == key2[held]).all()
    assert rf.order[s].tolist() == [model[k] for k in held.tolist()]
    assert 2 * rf.held <= len(rf.order)


@settings(max_examples=150, deadline=None)
@given(
    choices=st.lists(st.integers(0, 4), min_size=POOL, max_size=POOL),
    steps=st.lists(
        st.tuples(st.booleans(), st.lists(st.integers(0, POOL - 1), max_size=60, unique=True), st.integers(0, 3)),
        max_size=12,
    ),
)
def test_the_table_holds_exactly_the_keys_put_in(choices, steps) -> None:
    rf = RepeatFilter({})
    rf._alloc(8)
    pool = _pool(choices)
    g, flow, key1, key2 = pool
    model: dict[int, int] = {}  # key id -> creation order + 1
    for rebuild, ids, grow in steps:
        if rebuild:  # keep the keys drawn, in a table of the same size or larger
            keep = [k for k in ids if k in model]
            slot, _ = rf._find(g, flow, key1, key2)
            size = len(rf.order) << grow
            while 2 * len(keep) > size:
                size *= 2
            rf._rebuild(slot[keep], size)
            model = {k: model[k] for k in keep}
        else:  # put the keys drawn (those not held yet), growing the table as split does
            sel = np.array(ids, dtype=np.int64)
            size = len(rf.order)
            while 2 * (rf.held + len(sel)) > size:
                size *= 2
            if size > len(rf.order):
                rf._rebuild(np.flatnonzero(rf.order), size)
            slot, free = rf._find(g[sel], flow[sel], key1[sel], key2[sel])
            new = sel[slot < 0]
            order = np.arange(len(model) + 1, len(model) + 1 + len(new), dtype=np.int64)
            rf._insert(free[slot < 0], g[new], flow[new], key1[new], key2[new], order)
            rf.held += len(new)
            model.update(zip(new.tolist(), order.tolist(), strict=True))
        _check(rf, pool, model)


# -- the whole filter, many batches ---------------------------------------------------------------


def _frame(src: int, dst: int, sport: int, dport: int, payload: bytes) -> bytes:
    eth = bytes.fromhex("0200000000020200000000010800")
    tcp = struct.pack(">HHIIBBHHH", sport, dport, 1, 1, 0x50, 0x18, 8192, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 6, 0, bytes([10, 0, 0, src]), bytes([10, 0, 0, dst]))
    return eth + ip + tcp + payload


def _polling(path, polls: int) -> None:
    """Eight clients polling a server, each over registers that move on as the capture goes (so keys
    come and go), with the answers' values changing."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    frames = []
    for i in range(polls):
        client = 1 + i % 8
        register = (i // 8) % 90 + 100 * (i // 2000)  # 90 registers per client, then others
        count = 1 + register % 3
        req = struct.pack(">HHHBBHH", i & 0xFFFF, 0, 6, 1, 3, register, count)
        values = bytes((i * 7 + j) & 0xFF for j in range(2 * count))
        rsp = struct.pack(">HHHBBB", i & 0xFFFF, 0, 3 + len(values), 1, 3, len(values)) + values
        frames.append(_frame(client, 20, 40000 + client, 502, req))
        frames.append(_frame(20, client, 502, 40000 + client, rsp))
    for k, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + k // 1000, (k % 1000) * 1000, len(f), len(f)) + f)
    path.write_bytes(b"".join(out))


def _events(d):
    return sorted(
        (e.file, e.protocol, e.client, e.server, e.message, e.operation or "", e.function or "")
        + (e.count, e.first_packet, e.last_packet, e.last_time)
        for e in d.events
    )


def _hosts(d):
    return json.dumps(d.hosts, sort_keys=True, default=str)


def test_a_growing_and_overflowing_filter_changes_nothing(tmp_path, monkeypatch) -> None:
    cap = tmp_path / "poll.pcap"
    _polling(cap, 6000)
    monkeypatch.setattr(discover_module, "open_capture", functools.partial(open_capture, chunk_size=8192))
    every = discover([cap], skip_repeats=False)
    sizes: list[int] = []
    flushes: list[bool] = []
    split, flush = RepeatFilter.split, RepeatFilter.flush

    def spy_split(self, *args):
        out = split(self, *args)
        sizes.append(len(self.order))
        return out

    def spy_flush(self, keep_recent=False):
        flushes.append(keep_recent)
        return flush(self, keep_recent)

    monkeypatch.setattr(RepeatFilter, "split", spy_split)
    monkeypatch.setattr(RepeatFilter, "flush", spy_flush)
    fast = discover([cap])  # 1,440 keys: the table grows past its first 1,024 slots
    assert max(sizes) > repeats._MIN_SLOTS and len(sizes) > 50
    assert fast.stats["repeated_packets"] > 6000
    assert _events(fast) == _events(every)
    assert _hosts(fast) == _hosts(every)
    for max_groups in (3, 50, 400):  # full: keys in use kept, others forgotten
        monkeypatch.setattr(repeats, "MAX_GROUPS", max_groups)
        flushes.clear()
        fast = discover([cap])
        assert flushes.count(True) > 1
        assert fast.stats["repeated_packets"] > 0
        assert _events(fast) == _events(every)
        assert _hosts(fast) == _hosts(every)
