"""MITRE ATT&CK for ICS, offline: techniques, mitigations and the IEC 62443-3-3 SRs MITRE cites.

The data ships in ``data/ics-attack.json`` (see its ``_about`` for version, source and
coverage); :mod:`zonewarden.attack.build` regenerates it from MITRE's STIX bundle.
:func:`unmitigated` answers "which techniques do a zone's missing SRs leave open?": a
technique is left unmitigated when every SR-labelled mitigation of it cites at least one SR
the zone does not meet. Pure, apart from reading the packaged file once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"https://attack.mitre.org/techniques/{self.id}/"


@dataclass(frozen=True)
class Mitigation:
    id: str
    name: str
    srs: tuple[str, ...]  # IEC 62443-3-3 SRs MITRE cites for it
    techniques: tuple[str, ...]


@dataclass(frozen=True)
class Attack:
    about: dict[str, Any]
    techniques: dict[str, Technique]
    mitigations: dict[str, Mitigation]

    @property
    def version(self) -> str:
        return str(self.about.get("attack_version", "?"))

    def technique(self, ident: str) -> Technique:
        """The technique ``ident`` (KeyError names it when unknown)."""
        try:
            return self.techniques[ident]
        except KeyError:
            raise KeyError(f"{ident} is not an ATT&CK for ICS technique (v{self.version})") from None

    def mitigations_of(self, technique: str) -> list[Mitigation]:
        return [m for m in self.mitigations.values() if technique in m.techniques]


@cache
def load_attack() -> Attack:
    """The ATT&CK for ICS data shipped in the package."""
    text = resources.files("zonewarden.attack").joinpath("data/ics-attack.json").read_text(encoding="utf-8")
    return parse(json.loads(text))


def load_attack_file(path: str | os.PathLike[str]) -> Attack:
    """ATT&CK for ICS from a file the user provides: MITRE's STIX 2.1 bundle (ics-attack-*.json from
    mitre-attack/attack-stix-data, converted here) or a file in the shipped format. Raises InputError."""
    from zonewarden.attack.build import convert
    from zonewarden.errors import InputError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("type") == "bundle":
            data = convert(data, Path(path).name)
        return parse(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise InputError(f"{path}: not an ATT&CK for ICS STIX bundle or data file ({reason})") from exc


def parse(data: dict[str, Any]) -> Attack:
    techniques = {t["id"]: Technique(t["id"], t["name"], tuple(t["tactics"])) for t in data["techniques"]}
    mitigations = {
        m["id"]: Mitigation(m["id"], m["name"], tuple(m.get("iec62443_3_3", [])), tuple(m.get("techniques", [])))
        for m in data["mitigations"]
    }
    return Attack(data.get("_about", {}), techniques, mitigations)


def base_sr(requirement: str) -> str:
    """'SR 5.1 RE 2' -> 'SR 5.1' (MITRE cites base SRs)."""
    return requirement.split(" RE ")[0].strip()


def unmitigated(missing: set[str], attack: Attack | None = None) -> list[dict[str, Any]]:
    """Techniques left open by the missing base SRs ``missing`` (e.g. {'SR 5.1', 'SR 3.1'}).

    Only techniques with at least one SR-labelled mitigation are judged; each result names the
    mitigations that are not in place and the SRs behind them."""
    attack = attack or load_attack()
    by_technique: dict[str, list[Mitigation]] = {}
    for m in attack.mitigations.values():
        if m.srs:
            for t in m.techniques:
                by_technique.setdefault(t, []).append(m)
    out = []
    for tid, mits in sorted(by_technique.items()):
        if tid not in attack.techniques:
            continue
        if all(any(sr in missing for sr in m.srs) for m in mits):
            tech = attack.techniques[tid]
            out.append(
                {
                    "technique": tid,
                    "name": tech.name,
                    "tactics": list(tech.tactics),
                    "mitigations": [m.id for m in mits],
                    "missing_srs": sorted({sr for m in mits for sr in m.srs if sr in missing}),
                }
            )
    return out


def zone_exposure(result: Any, attack: Attack | None = None) -> list[dict[str, Any]]:
    """Per zone of an assessment result (:func:`zonewarden.assess.engine.assess`): the base SRs it
    misses and the ATT&CK for ICS techniques they leave unmitigated."""
    attack = attack or load_attack()
    out = []
    for zone in result.zones:
        missing = {base_sr(g.requirement) for g in zone.gaps if " RE " not in g.requirement}
        out.append(
            {
                "zone": zone.id,
                "missing_srs": sorted(missing),
                "unmitigated": unmitigated(missing, attack),
            }
        )
    return out
