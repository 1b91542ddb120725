"""Zone pairs for zone-based firewalls (SRX, PAN-OS, FortiGate): 62443 zones become security zones.

A term goes into the policy of each (initiator zone, responder zone) pair it joins; an
``any`` side (or a subnet in no zone) is the platform's any zone. The device's security
zones (or interfaces / zones on a FortiGate) must carry the ZoneWarden zone ids, which
every banner says. Policies are emitted pair by pair, sorted; a term that joins several
pairs is repeated with a ``-2``, ``-3`` suffix, because rule names must be unique.
"""

from __future__ import annotations

from zonewarden.rules.generate.base import Term

ANY = "any"


def by_zone_pair(terms: list[Term], term_max: int) -> dict[tuple[str, str], list[tuple[Term, str]]]:
    """(from zone, to zone) -> [(term, name in that pair)], pairs sorted with any-zone pairs last."""
    pairs: dict[tuple[str, str], list[tuple[Term, str]]] = {}
    for term in terms:
        joined = [(s, d) for s in term.src_zones or (ANY,) for d in term.dst_zones or (ANY,)]
        for i, pair in enumerate(joined):
            suffix = f"-{i + 1}" if i else ""
            pairs.setdefault(pair, []).append((term, term.name[: term_max - len(suffix)] + suffix))
    return dict(sorted(pairs.items(), key=lambda kv: (ANY in kv[0], kv[0])))


def zone_note(zones: tuple[str, ...], what: str) -> str:
    return f"{what} must be named after the ZoneWarden zones: {', '.join(zones)}"
