"""iptables-save / ip6tables-save output (and shell scripts of ``iptables -A ...`` commands).

Every chain becomes a :class:`RuleList`; built-in chains get their hook, user
chains are reached by ``-j``/``-g``. A ``LOG`` rule gives the logging flag to the
next rule of its chain with the same match (the usual LOG-then-DROP pair).
Matches the model cannot express (rate limits, ``recent``, marks, ipsets, ...)
keep the rule but make it inexact; NAT and marking rules are reported as skipped.
"""

from __future__ import annotations

import re

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import LineError, address, config_lines, family_all, port_span, tokens
from zonewarden.rules.ruleset import DROP, GOTO, JUMP, PERMIT, REJECT, RETURN, Rule, RuleList, Ruleset

# Built-in chains: (table, chain) -> (hook, stage on that hook's path)
BUILTIN = {
    ("raw", "PREROUTING"): ("prerouting", 0),
    ("mangle", "PREROUTING"): ("prerouting", 1),
    ("mangle", "INPUT"): ("input", 2),
    ("mangle", "FORWARD"): ("forward", 2),
    ("mangle", "OUTPUT"): ("output", 1),
    ("raw", "OUTPUT"): ("output", 0),
    ("filter", "INPUT"): ("input", 3),
    ("filter", "FORWARD"): ("forward", 3),
    ("filter", "OUTPUT"): ("output", 2),
    ("security", "INPUT"): ("input", 4),
    ("security", "FORWARD"): ("forward", 4),
    ("security", "OUTPUT"): ("output", 3),
    ("mangle", "POSTROUTING"): ("postrouting", 5),
}
POLICIES = {"ACCEPT": PERMIT, "DROP": DROP}
TARGETS = {"ACCEPT": PERMIT, "DROP": DROP, "REJECT": REJECT, "RETURN": RETURN}
LOG_TARGETS = {"LOG", "NFLOG", "ULOG"}
NAT_TARGETS = {"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"}
# Match modules whose options the model expresses exactly (or which only load other options).
EXACT_MODULES = {
    "tcp",
    "udp",
    "sctp",
    "icmp",
    "icmp6",
    "icmpv6",
    "multiport",
    "iprange",
    "state",
    "conntrack",
    "comment",
}
# Options taking no argument.
FLAGS = {
    "--syn",
    "-f",
    "--fragment",
    "--rsource",
    "--rdest",
    "--set",
    "--update",
    "--rcheck",
    "--remove",
    "--log-ip-options",
    "--log-tcp-options",
    "--log-tcp-sequence",
    "--log-uid",
    "--clamp-mss-to-pmtu",
    "--checksum-fill",
    "--notrack",
    "--restore-mark",
    "--save-mark",
    "--invert",
    "--strict",
    "--loose",
    "--validmark",
    "--accept-local",
    "--reap",
    "--log-macdecode",
    "--nflog-threshold",
}
_COUNTERS = re.compile(r"^\[\d+:\d+\]\s*")
_SCRIPT = re.compile(r"^(?:sudo\s+)?(?:/\S*/)?(ip6?tables)(?:-legacy|-nft)?\s+(.*)$")


class _Chain:
    def __init__(self, table: str, name: str, policy: str | None, line: int) -> None:
        self.table, self.name, self.policy, self.line = table, name, policy, line


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("iptables", file)
    lines = config_lines(text)
    family = _family(lines)
    declared = _declared_chains(lines)
    table = "filter"
    saw_table = False
    chains: dict[tuple[str, str], RuleList] = {}
    pending_log: dict[tuple[str, str], tuple] = {}
    statements = 0

    def chain_list(tbl: str, name: str, line: int) -> RuleList:
        key = (tbl, name)
        if key not in chains:
            hook, stage = BUILTIN.get(key, (None, 0))
            list_name = name if tbl == "filter" else f"{tbl}/{name}"
            chains[key] = rs.add_list(
                RuleList(
                    list_name,
                    default=PERMIT if hook else RETURN,
                    hook=hook,
                    stage=stage,
                    family=family,
                    default_location=Location(file, line),
                    primary=tbl == "filter",
                )
            )
        return chains[key]

    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        script = _SCRIPT.match(line)
        if script:
            words = tokens(script.group(2))
            tbl = "filter"
            if "-t" in words[:-1] or "--table" in words[:-1]:
                i = words.index("-t") if "-t" in words else words.index("--table")
                tbl = words[i + 1]
                del words[i : i + 2]
            if words[:1] == ["-P"] or words[:1] == ["--policy"]:
                if len(words) < 3 or words[2] not in POLICIES:
                    rs.skip(number, raw, "a chain policy needs a chain and ACCEPT or DROP")
                    continue
                lst = chain_list(tbl, words[1], number)
                lst.default, lst.default_explicit = POLICIES[words[2]], True
                lst.default_location = Location(file, number)
                statements += 1
                continue
            if words[:1] in (["-N"], ["--new-chain"]) and len(words) > 1:
                chain_list(tbl, words[1], number)
                statements += 1
                continue
            if words[:1] in (["-A"], ["--append"], ["-I"], ["--insert"]):
                statements += 1
                _rule(rs, tbl, words, number, raw, family, chain_list, pending_log, declared)
                continue
            rs.skip(number, raw, "iptables command that does not add a rule or set a policy")
            continue
        if line.startswith("*"):
            table = line[1:].strip()
            saw_table = True
            continue
        if line == "COMMIT":
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            if not parts:
                rs.skip(number, raw, "chain declaration without a name")
                continue
            lst = chain_list(table, parts[0], number)
            policy = parts[1] if len(parts) > 1 else "-"
            if policy in POLICIES and lst.hook:
                lst.default, lst.default_explicit = POLICIES[policy], True
                lst.default_location = Location(file, number)
            statements += 1
            continue
        line = _COUNTERS.sub("", line)
        words = tokens(line)
        if words[:1] in (["-N"], ["--new-chain"]) and len(words) > 1:
            chain_list(table, words[1], number)
            statements += 1
            continue
        if words[:1] in (["-A"], ["--append"], ["-I"], ["--insert"]):
            statements += 1
            _rule(rs, table, words, number, raw, family, chain_list, pending_log, declared)
            continue
        if words[:1] == ["-P"] and len(words) >= 3 and words[2] in POLICIES:
            lst = chain_list(table, words[1], number)
            lst.default, lst.default_explicit = POLICIES[words[2]], True
            statements += 1
            continue
        rs.skip(number, raw, "not an iptables-save statement" if saw_table else "not an iptables rule or shell command")
    if statements == 0:
        raise rs.error(1, "no iptables-save statements found (expected '*filter', ':CHAIN POLICY' and '-A' lines)")
    rs.notes.append(f"address family {family}")
    return rs


def _declared_chains(lines: list[str]) -> set[tuple[str, str]]:
    """(table, chain) of every chain the file declares (':NAME' in a table, or -N NAME)."""
    found = set()
    table = "filter"
    for raw in lines:
        line = raw.strip()
        script = _SCRIPT.match(line)
        if script:
            words = tokens(script.group(2))
            tbl = words[words.index("-t") + 1] if "-t" in words[:-1] else "filter"
            if "-N" in words[:-1]:
                found.add((tbl, words[words.index("-N") + 1]))
            continue
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":") and line[1:].split():
            found.add((table, line[1:].split()[0]))
        elif line.startswith("-N ") and len(line.split()) > 1:
            found.add((table, line.split()[1]))
    return found


def _family(lines: list[str]) -> str:
    for line in lines:
        if re.search(r"\s-[sd]\s+!?\s*[0-9a-fA-F]*:[0-9a-fA-F:]*", line) or "ip6tables" in line:
            return "ip6"
    return "ip"


def _rule(rs, table, words, number, raw, family, chain_list, pending_log, declared) -> None:
    file = rs.file
    if len(words) < 2:
        rs.skip(number, raw, "rule without a chain")
        return
    op, chain = words[0], words[1]
    rest = words[2:]
    position = None
    if op in ("-I", "--insert") and rest and rest[0].isdigit():
        position = int(rest[0]) - 1
        rest = rest[1:]
    elif op in ("-I", "--insert"):
        position = 0
    if table == "nat":
        rs.skip(number, raw, "NAT rule: address translation is not analysed")
        return
    lst = chain_list(table, chain, number)
    try:
        fields = _matches(rest, family)
    except LineError as exc:
        rs.skip(number, raw, str(exc))
        return
    target = fields.pop("target", None)
    goto = fields.pop("goto", False)
    key = (table, chain)
    signature = _signature(fields)
    if target is None:
        rs.skip(number, raw, "rule without a target only counts packets")
        return
    if target in LOG_TARGETS:
        pending_log[key] = signature
        return
    log = pending_log.pop(key, None) == signature
    if target in TARGETS:
        action, jump_to = TARGETS[target], None
    elif target in NAT_TARGETS:
        rs.skip(number, raw, f"target {target} translates addresses; NAT is not analysed")
        return
    elif target in ("NFQUEUE", "QUEUE"):
        rs.skip(number, raw, f"target {target} hands packets to a user-space program that decides; not analysed")
        return
    elif (table, target) not in declared:
        rs.skip(number, raw, f"target {target} neither accepts nor drops (marking, logging or mangling)")
        return
    else:
        action, jump_to = (GOTO if goto else JUMP), (target if table == "filter" else f"{table}/{target}")
    conditions = tuple(fields.pop("conditions"))
    rule = Rule(
        action=action,
        src=fields.get("src", family_all(family)),
        dst=fields.get("dst", family_all(family)),
        protocols=fields.get("proto", iv.PROTO_ALL),
        sport=fields.get("sport", iv.PORT_ALL),
        dport=fields.get("dport", iv.PORT_ALL),
        stateful=fields.get("stateful", False),
        log=log,
        in_ifaces=fields.get("in"),
        out_ifaces=fields.get("out"),
        in_negated=fields.get("in_neg", False),
        out_negated=fields.get("out_neg", False),
        chain=lst.name,
        target=jump_to,
        location=Location(file, number),
        text=raw.strip(),
        name=fields.get("comment"),
        exact=not conditions,
        conditions=conditions,
        new_only=fields.get("new", True),
    )
    if position is None:
        lst.rules.append(rule)
    else:
        lst.rules.insert(min(position, len(lst.rules)), rule)


def _signature(fields: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in fields.items() if k not in ("comment",)))


def _matches(words: list[str], family: str) -> dict:
    out: dict = {"conditions": []}
    i = 0
    negate = False
    modules: set[str] = set()
    all_addr = family_all(family)

    def arg() -> str:
        nonlocal i
        if i + 1 >= len(words):
            raise LineError(f"option {words[i]} needs a value")
        i += 1
        value = words[i]
        if value == "!":  # old style: -s ! 10.0.0.1
            nonlocal negate
            negate = True
            if i + 1 >= len(words):
                raise LineError("'!' needs a value after it")
            i += 1
            value = words[i]
        return value

    def addresses(value: str) -> iv.IVS:
        sets = [address(part) for part in value.split(",") if part]
        result = iv.union_all(sets)
        bad = iv.subtract(result, all_addr)
        if bad and family != "any":
            raise LineError(f"address '{value}' is not an {'IPv6' if family == 'ip6' else 'IPv4'} address")
        return result

    while i < len(words):
        w = words[i]
        if w == "!":
            negate = True
            i += 1
            continue
        neg, negate = negate, False
        if w in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
            value = arg()
            neg = neg or negate
            negate = False
            s = addresses(value)
            out["src" if w in ("-s", "--source", "--src") else "dst"] = iv.subtract(all_addr, s) if neg else s
        elif w in ("-p", "--protocol"):
            value = arg().lower()
            neg = neg or negate
            negate = False
            if value in ("all", "0"):
                p = iv.PROTO_ALL
            else:
                from zonewarden.rules.ruleset import protocol_ivs

                try:
                    p = protocol_ivs({"ipv6-icmp": "58", "icmpv6": "58"}.get(value, value))
                except ValueError as exc:
                    raise LineError(str(exc)) from None
            out["proto"] = iv.subtract(iv.PROTO_ALL, p) if neg else p
        elif w in ("-i", "--in-interface", "-o", "--out-interface"):
            value = arg()
            neg = neg or negate
            negate = False
            side = "in" if w in ("-i", "--in-interface") else "out"
            out[side] = (value,)
            out[side + "_neg"] = neg
        elif w in ("-m", "--match"):
            modules.add(arg())
        elif w in (
            "--sport",
            "--source-port",
            "--dport",
            "--destination-port",
            "--sports",
            "--source-ports",
            "--dports",
            "--destination-ports",
        ):
            value = arg()
            neg = neg or negate
            negate = False
            ports = iv.union_all(port_span(p) for p in value.split(","))
            key = "sport" if w in ("--sport", "--source-port", "--sports", "--source-ports") else "dport"
            out[key] = iv.subtract(iv.PORT_ALL, ports) if neg else ports
        elif w in ("--src-range", "--dst-range"):
            value = arg()
            neg = neg or negate
            negate = False
            r = address(value)
            key = "src" if w == "--src-range" else "dst"
            r = iv.subtract(all_addr, r) if neg else r
            out[key] = iv.intersect(out.get(key, all_addr), r)
        elif w in ("--state", "--ctstate"):
            value = arg().upper()
            neg = neg or negate
            negate = False
            states = set(value.split(","))
            matches_new = bool(states & {"NEW", "UNTRACKED"})
            out["new"] = (not matches_new) if neg else matches_new
            out["stateful"] = True
        elif w == "--comment":
            out["comment"] = arg()
        elif w in ("-j", "--jump", "-g", "--goto"):
            out["target"] = arg()
            out["goto"] = w in ("-g", "--goto")
        elif w == "--syn" or (
            w == "--tcp-flags" and words[i + 1 : i + 3] in (["FIN,SYN,RST,ACK", "SYN"], ["SYN,RST,ACK,FIN", "SYN"])
        ):
            i += 0 if w == "--syn" else 2
            if neg:
                out["new"] = False
        elif w.startswith("-"):
            # An option the model does not express: keep its words as a condition.
            start = i
            if w not in FLAGS:
                while (
                    i + 1 < len(words)
                    and not (words[i + 1].startswith("-") and len(words[i + 1]) > 1)
                    and words[i + 1] != "!"
                ):
                    i += 1
            text = " ".join(words[start : i + 1])
            if not _is_target_option(w):
                out["conditions"].append(("! " if neg else "") + text)
        else:
            raise LineError(f"unexpected word '{w}'")
        i += 1
    for m in modules - EXACT_MODULES:
        if not any(c.startswith(f"-m {m}") for c in out["conditions"]):
            out["conditions"].append(f"-m {m}")
    if "target" not in out:
        out.pop("goto", None)
    return out


_TARGET_OPTIONS = (
    "--log-",
    "--reject-with",
    "--to-",
    "--set-",
    "--nflog-",
    "--ulog-",
    "--queue-",
    "--clamp",
    "--and-",
    "--or-",
    "--xor-",
    "--save-",
    "--restore-",
    "--checksum",
    "--notrack",
    "--ctmask",
    "--nfmask",
    "--random",
    "--persistent",
)


def _is_target_option(word: str) -> bool:
    return word.startswith(_TARGET_OPTIONS)
