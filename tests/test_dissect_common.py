"""The helpers every dissector shares (dissectors/_common.py): one text rule, one guard, one observation builder."""

from __future__ import annotations

from typing import Any

from _pcap import make_packet
from hypothesis import given
from hypothesis import strategies as st

from zonewarden.traffic.dissectors._common import MAX_TEXT, Reader, Truncated, guarded, observation, text
from zonewarden.traffic.dissectors.base import Observation, Packet


def test_text_cuts_at_the_first_nul_after_leading_ones_and_keeps_printable_characters() -> None:
    assert text(b"CPU 1516\x00\x00garbage") == "CPU 1516"
    assert text(b"\x00\x00name") == "name"
    assert text(b" a\tb\x07c ") == "abc"
    assert text(b"\xffok") == "\ufffdok"
    assert text("Ström".encode("utf-16-be"), "utf-16-be") == "Ström"  # NUL bytes of UTF-16 are not NULs
    assert text(b"x" * 1000) == "x" * MAX_TEXT
    assert text(b"abc", "no-such-codec") == "abc"


@given(st.binary(max_size=300), st.sampled_from(["utf-8", "latin-1", "utf-16-be", "ascii"]))
def test_text_is_the_printable_characters_of_the_first_string(raw: bytes, encoding: str) -> None:
    decoded = raw[: MAX_TEXT * 4].decode(encoding, errors="replace").lstrip("\x00").split("\x00", 1)[0]
    assert text(raw, encoding) == "".join(ch for ch in decoded if ch.isprintable()).strip()[:MAX_TEXT]


class _Broken:
    name = "demo"

    @guarded("demo", (502,))
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        if packet.payload == b"short":
            Reader(packet.payload).take(10)
        raise KeyError("bug")


def test_guard_turns_any_exception_into_one_malformed_observation_with_reason_and_internal_error() -> None:
    response = make_packet(b"short", sport=502, dport=40000)
    [short] = _Broken().dissect(response, {})
    assert short.message == "malformed" and (short.client, short.server) == ("10.0.0.2", "10.0.0.1")
    assert short.details == {"reason": "Truncated: need 10 bytes at 0, have 5", "internal_error": False}
    [bug] = _Broken().dissect(make_packet(b"other", dport=502), {})
    assert bug.details == {"reason": "KeyError: 'bug'", "internal_error": True}
    assert issubclass(Truncated, ValueError)


def test_observation_drops_empty_identity_values() -> None:
    packet = make_packet(b"", number=7)
    obs = observation("p", packet, "c", "s", "response", "F", {"vendor": "", "model": None}, "s", {"k": 1})  # type: ignore[dict-item]
    assert (obs.identity, obs.identity_of, obs.packet, obs.details) == ({}, None, 7, {"k": 1})
    kept = observation("p", packet, "c", "s", identity={"vendor": "ACME"}, identity_of="s", operation="read")
    assert (kept.identity, kept.identity_of, kept.operation, kept.message) == (
        {"vendor": "ACME"},
        "s",
        "read",
        "request",
    )
