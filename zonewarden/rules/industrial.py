"""Which protocol codes a flow's ``operations`` restriction allows: the knowledge IPS and DPI rules share.

The code -> operation tables are the traffic dissectors' own module-level tables
(:mod:`zonewarden.traffic.dissectors.modbus`, ``dnp3``, ``s7comm``, ``enip``), imported, not
copied, so what a capture check calls a "program download" is what a rule blocks. On top
of them this module decides, per flow, which codes are allowed:

* a code is allowed when the flow's ``function_codes`` (if any) lists it and its operation
  is allowed by the preset / allow / deny lists (:meth:`Operations.allowed`);
* codes without an operation of their own are protocol mechanics or containers:
  Modbus FC 43 (MEI; Read Device Identification) counts as ``diagnostics``; Modbus FC 90
  (Schneider UMAS) carries reads, writes, start/stop and program download, so it is allowed
  only when ``function_codes`` lists it or every UMAS operation is allowed (and then the
  UMAS sub-functions of denied operations are listed); DNP3 Confirm and the Secure
  Authentication codes are always allowed (the session needs them); S7 Setup
  Communication and CPU services are always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from zonewarden.model.plant import Operations
from zonewarden.traffic.dissectors import dnp3, enip, modbus, s7comm

# Modbus codes the Modbus specification assigns publicly (V1.1b3); Suricata's "assigned" category.
MODBUS_PUBLIC_ASSIGNED = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43})
MODBUS_UMAS = 90
MODBUS_MEI = 43


@dataclass(frozen=True)
class Code:
    """A protocol function (code and name) and the operation class it belongs to."""

    code: int
    name: str
    operation: str | None
    sub: int | None = None  # sub-function / class where the rule needs one (UMAS, S7 userdata, CIP class)


@dataclass(frozen=True)
class Verdict:
    """The codes of one protocol a flow allows and denies."""

    allowed: tuple[Code, ...]
    denied: tuple[Code, ...]
    strict: bool  # the flow lists function codes: codes outside the known tables are denied too
    notes: tuple[str, ...] = ()


def _allowed(ops: Operations, code: int, operation: str | None) -> bool:
    if ops.function_codes is not None and code not in ops.function_codes:
        return False
    return operation is None or ops.allowed(operation)


def modbus_verdict(ops: Operations) -> Verdict:
    """Modbus function codes (and UMAS sub-functions) a flow allows and denies."""
    allowed: list[Code] = []
    denied: list[Code] = []
    notes: list[str] = []
    umas_ops = {op for _, op in modbus.UMAS_FUNCTIONS.values() if op}
    for code, (name, operation) in sorted(modbus.FUNCTIONS.items()):
        if code == MODBUS_MEI:
            operation = "diagnostics"
        if code == MODBUS_UMAS:
            listed = ops.function_codes is not None and code in ops.function_codes
            ok = listed or (ops.function_codes is None and all(ops.allowed(op) for op in umas_ops))
            (allowed if ok else denied).append(Code(code, name, "program-download"))
            if ok:
                for sub, (sub_name, sub_op) in sorted(modbus.UMAS_FUNCTIONS.items()):
                    if sub_op and not ops.allowed(sub_op):
                        denied.append(Code(code, f"UMAS {sub_name}", sub_op, sub))
            continue
        (allowed if _allowed(ops, code, operation) else denied).append(Code(code, name, operation))
    strict = ops.function_codes is not None
    if strict:
        unknown = sorted(set(ops.function_codes or ()) - set(modbus.FUNCTIONS))
        allowed.extend(Code(c, f"function {c}", None) for c in unknown)
        if unknown:
            notes.append(f"function codes {', '.join(map(str, unknown))} are not in ZoneWarden's Modbus table")
    return Verdict(tuple(allowed), tuple(denied), strict, tuple(notes))


def dnp3_verdict(ops: Operations) -> Verdict:
    """DNP3 request function codes (master -> outstation) a flow allows and denies."""
    allowed: list[Code] = []
    denied: list[Code] = []
    for code, (name, operation) in sorted(dnp3.FUNCTIONS.items()):
        if code >= 128:  # responses travel outstation -> master
            continue
        if operation is None:  # Confirm, authentication: the session needs them
            allowed.append(Code(code, name, None))
            continue
        (allowed if _allowed(ops, code, operation) else denied).append(Code(code, name, operation))
    return Verdict(tuple(allowed), tuple(denied), ops.function_codes is not None)


def s7_verdict(ops: Operations) -> Verdict:
    """S7comm job functions, PI services and userdata functions a flow allows and denies.

    Job functions are the S7 "function codes"; PI services (``sub`` = -1, name = service)
    and userdata functions (``sub`` = subfunction, ``code`` = group) follow the operations only."""
    allowed: list[Code] = []
    denied: list[Code] = []
    for code, (name, operation) in sorted(s7comm.FUNCTIONS.items()):
        if operation is None and code != 0x28:  # setup communication, CPU services
            allowed.append(Code(code, name, None))
            continue
        if code == 0x28:  # PI service: judged per service below
            continue
        (allowed if _allowed(ops, code, operation) else denied).append(Code(code, name, operation))
    for service, (what, operation) in sorted(s7comm.PI_SERVICES.items()):
        if operation is None:
            continue
        target = allowed if ops.allowed(operation) else denied
        target.append(Code(0x28, f"PI-Service {service} ({what})", operation, -1))
    for (group, sub), (name, operation) in sorted(s7comm.USERDATA.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)):
        if sub is None or operation is None:
            continue
        target = allowed if ops.allowed(operation) else denied
        target.append(Code(group, f"userdata {name}", operation, sub))
    return Verdict(tuple(allowed), tuple(denied), ops.function_codes is not None)


def cip_verdict(ops: Operations) -> Verdict:
    """CIP services a flow allows and denies; ``sub`` is the object class for class-specific
    meanings (Set on Time Sync is time-sync, Create on a Logix program is program-download,
    File and NVS object services), None for the service on any class."""
    verdicts: dict[tuple[int, int | None], tuple[str, str]] = {}
    for service in sorted({**enip.COMMON_SERVICES, **enip.TAG_SERVICES}):
        name, operation = enip.classify(service, {})
        if operation is not None:
            verdicts[(service, None)] = (name, operation)
        if service in enip.COMMON_SERVICES:
            for cls in sorted(enip.TIME_CLASSES | enip.PROGRAM_CLASSES | {0x01}):
                cls_name, cls_op = enip.classify(service, {"class": cls})
                if cls_op is not None and cls_op != operation:
                    verdicts[(service, cls)] = (cls_name, cls_op)
    for cls, table in sorted(enip.CLASS_SERVICES.items()):
        for service, (name, operation) in sorted(table.items()):
            if operation is not None:
                verdicts[(service, cls)] = (f"{name} ({enip.CLASSES.get(cls, hex(cls))})", operation)
    allowed: list[Code] = []
    denied: list[Code] = []
    notes: list[str] = []
    for (service, klass), (name, operation) in verdicts.items():
        ok = _allowed(ops, service, operation)
        (allowed if ok else denied).append(Code(service, name, operation, klass))
        general = verdicts.get((service, None))
        if klass is not None and ok and general is not None and not _allowed(ops, service, general[1]):
            notes.append(f"{name} stays allowed, but Suricata cannot exempt one class, so its rule denies it too")
    return Verdict(tuple(allowed), tuple(denied), ops.function_codes is not None, tuple(notes))


VERDICTS = {"modbus": modbus_verdict, "dnp3": dnp3_verdict, "s7": s7_verdict, "enip": cip_verdict}
"""Protocols whose codes ZoneWarden can name in IPS rules; others get a DPI profile only."""
