"""nftables: ``nft list ruleset`` text (and ``nft -f`` scripts) and ``nft -j list ruleset`` JSON.

Both forms become the same intermediate rule (a list of matches ``(field, op,
values)`` plus statements) and then one :class:`Rule`. Base chains of type
``filter`` on the input, forward, output, prerouting and postrouting hooks are
rule lists with their policy; regular chains are reached by ``jump``/``goto``
(anonymous ``jump { ... }`` chains and verdict maps keyed by one field are
expanded into rules). NAT and route chains, concatenations and dynamic sets are
reported as skipped or make a rule inexact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import LineError, address, config_lines, port_span
from zonewarden.rules.ruleset import (
    DROP,
    GOTO,
    JUMP,
    PERMIT,
    PORT_NAMES,
    REJECT,
    RETURN,
    Rule,
    RuleList,
    Ruleset,
    fold_log_rules,
    protocol_ivs,
)

PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100, "out": 100}
HOOK_ORDER = {"prerouting": 0, "input": 1, "forward": 1, "output": 1, "postrouting": 2}
VERDICTS = {"accept": PERMIT, "drop": DROP, "reject": REJECT, "return": RETURN}
FAMILY_ALL = {"ip": iv.V4_ALL, "ip6": iv.V6_ALL}
ICMP_TYPES = {"echo-request": 8, "echo-reply": 0}
L4 = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "dccp": 33}

# ------------------------------------------------------------------ intermediate form


@dataclass
class Match:
    field: str  # e.g. "ip saddr", "tcp dport", "meta l4proto", "iifname", "ct state"
    op: str  # == or !=
    values: list  # strings, or ("@", name) for a named set


@dataclass
class NftRule:
    line: int
    text: str
    matches: list[Match] = field(default_factory=list)
    verdict: str | None = None
    target: str | None = None
    log: bool = False
    comment: str | None = None
    conditions: list[str] = field(default_factory=list)
    unsupported: str | None = None  # a reason to skip the whole rule
    anonymous: list[NftRule] | None = None  # jump { ... }


@dataclass
class Chain:
    table: str
    family: str
    name: str
    line: int
    type: str | None = None
    hook: str | None = None
    priority: int = 0
    policy: str = "accept"
    policy_explicit: bool = False
    policy_line: int = 0
    rules: list[NftRule] = field(default_factory=list)


@dataclass
class Table:
    family: str
    name: str
    sets: dict[str, list] = field(default_factory=dict)  # name -> element strings (None: dynamic)


# ------------------------------------------------------------------ text tokenizer

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{};,]|\n|[^\s{};,"]+|\S')


def _tokenize(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for number, line in enumerate(config_lines(text), start=1):
        stripped = line
        if "#" in line:  # a comment, unless inside a string
            in_string = False
            for i, ch in enumerate(line):
                if ch == '"':
                    in_string = not in_string
                elif ch == "#" and not in_string:
                    stripped = line[:i]
                    break
        continuation = stripped.rstrip().endswith("\\")
        if continuation:
            stripped = stripped.rstrip()[:-1]
        for m in _TOKEN.finditer(stripped):
            tok = m.group(0)
            out.append((tok, number))
        if not continuation:
            out.append(("\n", number))
    return out


class _Parser:
    def __init__(self, text: str, rs: Ruleset) -> None:
        self.toks = _tokenize(text)
        self.pos = 0
        self.rs = rs
        self.lines = config_lines(text)
        self.tables: dict[tuple[str, str], Table] = {}
        self.chains: dict[tuple[str, str, str], Chain] = {}
        self.defines: dict[str, list[str]] = {}
        self.statements = 0

    # token helpers
    def peek(self) -> str | None:
        return self.toks[self.pos][0] if self.pos < len(self.toks) else None

    def line(self) -> int:
        return self.toks[min(self.pos, len(self.toks) - 1)][1] if self.toks else 1

    def next(self) -> str:
        if self.pos >= len(self.toks):
            raise self.rs.error(self.line(), "unexpected end of file (a '{' is not closed)")
        tok = self.toks[self.pos][0]
        self.pos += 1
        return tok

    def skip_newlines(self) -> None:
        while self.peek() in ("\n", ";"):
            self.pos += 1

    def statement(self) -> list[tuple[str, int]]:
        """Tokens up to the end of the statement (newline or ';' outside braces), braces kept."""
        out = []
        depth = 0
        while self.pos < len(self.toks):
            tok, number = self.toks[self.pos]
            if tok in ("\n", ";") and depth == 0:
                self.pos += 1
                break
            if tok == "}" and depth == 0:
                break
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
            out.append((tok, number))
            self.pos += 1
        return out

    def block_end(self, start_line: int) -> None:
        self.skip_newlines()
        if self.peek() != "}":
            raise self.rs.error(start_line, "block is not closed with '}'")
        self.pos += 1

    # structure
    def parse(self) -> None:
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None:
                return
            number = self.line()
            if tok == "}":
                raise self.rs.error(number, "'}' without a matching '{'")
            if tok == "table":
                self.pos += 1
                self.table_block(number)
            elif tok in ("chain", "set", "map"):
                # a chain outside any table (a file meant to be included inside one)
                self.table_item(Table("inet", "-"), number)
            elif tok == "define":
                words = [t for t, _ in self.statement()]
                if len(words) >= 4 and words[2] == "=":
                    self.defines[words[1]] = [w for w in words[3:] if w not in ("{", "}", ",")]
                self.statements += 1
            elif tok in ("add", "insert", "create"):
                self.command(number)
            elif tok in ("flush", "delete", "destroy", "list"):
                self.statement()
                self.statements += 1
            elif tok == "include":
                words = self.statement()
                self.rs.skip(number, " ".join(w for w, _ in words), "include: the included file is not read")
            else:
                words = self.statement()
                self.rs.skip(number, " ".join(w for w, _ in words), f"not an nftables statement ('{tok}')")

    def _table(self, family: str, name: str) -> Table:
        return self.tables.setdefault((family, name), Table(family, name))

    def table_block(self, number: int) -> None:
        words = []
        while self.peek() not in ("{", "\n", ";", None):
            words.append(self.next())
        family, name = (words[0], words[1]) if len(words) >= 2 else ("ip", words[0] if words else "")
        if not name:
            raise self.rs.error(number, "table without a name")
        table = self._table(family, name)
        self.statements += 1
        if self.peek() != "{":
            self.statement()
            return
        self.pos += 1
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None:
                raise self.rs.error(number, f"table {name} is not closed with '}}'")
            if tok == "}":
                self.pos += 1
                return
            self.table_item(table, self.line())

    def table_item(self, table: Table, number: int) -> None:
        tok = self.next()
        if tok == "chain":
            name = self.next().strip('"')
            chain = self.chains.setdefault(
                (table.family, table.name, name), Chain(table.name, table.family, name, number)
            )
            if self.peek() == "{":
                self.pos += 1
                self.chain_body(chain, table)
            else:
                self.statement()
        elif tok in ("set", "map"):
            name = self.next().strip('"')
            if self.peek() != "{":
                self.statement()
                return
            self.pos += 1
            elements: list | None = []
            dynamic = False
            while True:
                self.skip_newlines()
                if self.peek() == "}":
                    self.pos += 1
                    break
                if self.peek() is None:
                    raise self.rs.error(number, f"{tok} {name} is not closed with '}}'")
                words = [w for w, _ in self.statement()]
                if words[:1] == ["elements"] and "{" in words:
                    elements = words[words.index("{") + 1 : -1]
                elif words[:1] == ["flags"] and any(w in ("dynamic", "timeout") for w in words):
                    dynamic = True
            # a set without elements is filled at run time (dynamic, timeout, or by a daemon): unknown
            table.sets[name] = _elements(elements) if elements else None
            del dynamic
        elif tok in ("flowtable", "counter", "quota", "ct", "limit", "secmark", "synproxy"):
            # named objects: skip their block
            depth = 0
            while self.peek() is not None:
                t = self.next()
                if t == "{":
                    depth += 1
                elif t == "}":
                    depth -= 1
                    if depth <= 0:
                        break
                elif t == "\n" and depth == 0:
                    break
        elif tok in ("flags", "comment"):
            self.statement()
        else:
            words = [tok] + [w for w, _ in self.statement()]
            self.rs.skip(number, " ".join(words), f"not a table item ('{tok}')")

    def chain_body(self, chain: Chain, table: Table) -> None:
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None:
                raise self.rs.error(chain.line, f"chain {chain.name} is not closed with '}}'")
            if tok == "}":
                self.pos += 1
                return
            number = self.line()
            words = self.statement()
            self.statements += 1
            self.chain_statement(chain, words, number)

    def chain_statement(self, chain: Chain, words: list[tuple[str, int]], number: int) -> None:
        texts = [w for w, _ in words]
        if not texts:
            return
        if texts[0] == "type":
            # type filter hook input priority 0 ; policy drop  (the ';' split them)
            chain.type = texts[1] if len(texts) > 1 else None
            if "hook" in texts:
                chain.hook = texts[texts.index("hook") + 1]
            if "priority" in texts:
                chain.priority = _priority(texts[texts.index("priority") + 1 :])
            return
        if texts[0] == "policy":
            chain.policy = texts[1] if len(texts) > 1 else "accept"
            chain.policy_explicit = True
            chain.policy_line = number
            return
        if texts[0] in ("comment", "devices", "device"):
            return
        source = self.lines[number - 1].strip() if 0 < number <= len(self.lines) else " ".join(texts)
        chain.rules.append(_rule_from_tokens(texts, number, source, self.defines))

    def command(self, number: int) -> None:
        words = [w for w, _ in self.statement()]
        self.statements += 1
        if len(words) < 2:
            self.rs.skip(number, " ".join(words), "incomplete command")
            return
        kind = words[1]
        args = words[2:]
        family = "ip"
        if args and args[0] in ("ip", "ip6", "inet", "arp", "bridge", "netdev"):
            family, args = args[0], args[1:]
        if kind == "table":
            if args:
                self._table(family, args[0])
            return
        if kind == "chain" and len(args) >= 2:
            table = self._table(family, args[0])
            chain = self.chains.setdefault((family, args[0], args[1]), Chain(args[0], family, args[1], number))
            if "{" in args:
                inner = args[args.index("{") + 1 :]
                text = " ".join(inner).replace("}", "")
                for part in text.split(";"):
                    if part.strip():
                        self.chain_statement(chain, [(w, number) for w in part.split()], number)
            del table
            return
        if kind == "rule" and len(args) >= 2:
            chain = self.chains.setdefault((family, args[0], args[1]), Chain(args[0], family, args[1], number))
            rest = args[2:]
            if rest[:1] in (["position"], ["handle"], ["index"]):
                rest = rest[2:]
            source = self.lines[number - 1].strip()
            rule = _rule_from_tokens(rest, number, source, self.defines)
            if words[0] == "insert":
                chain.rules.insert(0, rule)
            else:
                chain.rules.append(rule)
            return
        if kind in ("set", "map", "element"):
            return
        self.rs.skip(number, " ".join(words), f"'{words[0]} {kind}' is not analysed")


def _priority(words: list[str]) -> int:
    total = 0
    sign = 1
    for w in words:
        if w in ("+", "-"):
            sign = 1 if w == "+" else -1
        elif w.lstrip("-").isdigit():
            total += sign * int(w)
        elif w in PRIORITIES:
            total += sign * PRIORITIES[w]
        else:
            break
    return total


def _elements(words: list[str]) -> list[str]:
    out = []
    for w in words:
        if w in (",", "{", "}", "\n"):
            continue
        out.append(w.strip('"'))
    return out


# ------------------------------------------------------------------ rule interpretation

STATEMENT_WORDS = {
    "counter",
    "log",
    "limit",
    "comment",
    "accept",
    "drop",
    "reject",
    "jump",
    "goto",
    "return",
    "continue",
    "queue",
    "meta",
    "ct",
    "notrack",
    "snat",
    "dnat",
    "masquerade",
    "redirect",
    "tproxy",
    "mark",
    "quota",
    "synproxy",
    "flow",
    "set",
    "update",
    "add",
    "numgen",
    "ip",
    "ip6",
    "tcp",
    "udp",
    "th",
    "sctp",
    "icmp",
    "icmpv6",
    "iifname",
    "oifname",
    "iif",
    "oif",
    "ether",
    "vlan",
    "fib",
    "rt",
    "socket",
    "osf",
    "udplite",
    "dccp",
    "ah",
    "esp",
    "comp",
    "igmp",
    "arp",
    "exthdr",
    "dup",
    "fwd",
    "reset",
    "iiftype",
    "oiftype",
    "pkttype",
    "l4proto",
    "nfproto",
}
SELECTORS = {
    "ct",
    "meta",
    "fib",
    "rt",
    "ether",
    "vlan",
    "icmp",
    "icmpv6",
    "ip",
    "ip6",
    "tcp",
    "udp",
    "th",
    "sctp",
    "socket",
    "arp",
    "exthdr",
    "ah",
    "esp",
    "comp",
    "igmp",
    "dccp",
    "udplite",
    "osf",
    "ipsec",
    "hbh",
    "frag",
    "rt0",
    "mh",
    "srh",
    "dst",
    "tunnel",
    "cgroupv2",
    "numgen",
    "symhash",
    "jhash",
    "iiftype",
    "oiftype",
    "pkttype",
    "mark",
    "skuid",
    "skgid",
    "cpu",
    "iifgroup",
    "oifgroup",
    "length",
    "priority",
    "dscp",
}
OPS = {
    "==": "==",
    "eq": "==",
    "!=": "!=",
    "ne": "!=",
    "<": "<",
    "lt": "<",
    ">": ">",
    "gt": ">",
    "<=": "<=",
    "le": "<=",
    ">=": ">=",
    "ge": ">=",
}


def _rule_from_tokens(words: list[str], number: int, source: str, defines: dict[str, list[str]]) -> NftRule:
    rule = NftRule(number, source)
    # expand $variables
    expanded: list[str] = []
    for w in words:
        if w.startswith("$") and w[1:] in defines:
            value = defines[w[1:]]
            if len(value) > 1:
                expanded.append("{")
                for k, v in enumerate(value):
                    expanded.extend([v, ","] if k < len(value) - 1 else [v])
                expanded.append("}")
            else:
                expanded.extend(value)
        else:
            expanded.append(w)
    words = expanded
    i = 0
    n = len(words)

    def value_at(j: int) -> tuple[list, int]:
        """A value (scalar, {set} or @set) starting at j -> (values, next index)."""
        if j >= n:
            raise LineError("a match needs a value")
        w = words[j]
        if w == "{":
            depth, k, vals = 1, j + 1, []
            while k < n and depth:
                if words[k] == "{":
                    depth += 1
                elif words[k] == "}":
                    depth -= 1
                elif depth == 1 and words[k] not in (",", "\n"):
                    vals.append(words[k].strip('"'))
                k += 1
            # "a - b" spelled with spaces inside sets
            merged: list = []
            for v in vals:
                if merged and (v == "-" or (isinstance(merged[-1], str) and merged[-1].endswith("-"))):
                    merged[-1] = merged[-1] + v
                else:
                    merged.append(v)
            return merged, k
        if w.startswith("@"):
            return [("@", w[1:])], j + 1
        return [w.strip('"')], j + 1

    try:
        while i < n:
            w = words[i]
            two = f"{w} {words[i + 1]}" if i + 1 < n else w
            if (
                w in ("ip", "ip6")
                and i + 1 < n
                and words[i + 1] in ("saddr", "daddr", "protocol", "nexthdr", "version")
            ):
                fname = two
                i += 2
            elif w in L4 or w == "th":
                if i + 1 < n and words[i + 1] in ("dport", "sport", "flags"):
                    fname = two
                    i += 2
                else:
                    # bare 'tcp' etc. is not valid nft; treat as protocol
                    rule.matches.append(Match("meta l4proto", "==", [w]))
                    i += 1
                    continue
            elif (
                w == "meta"
                and i + 1 < n
                and words[i + 1] in ("l4proto", "nfproto", "iifname", "oifname", "iif", "oif", "protocol")
            ):
                fname = {"iif": "iifname", "oif": "oifname"}.get(words[i + 1], words[i + 1])
                fname = fname if fname in ("iifname", "oifname") else f"meta {fname}"
                i += 2
                if i < n and words[i] == "set":
                    rule.conditions.append(" ".join(words[i - 2 : i + 2]))
                    i += 2
                    continue
            elif w in ("iifname", "oifname", "iif", "oif"):
                fname = {"iif": "iifname", "oif": "oifname"}.get(w, w)
                i += 1
            elif w in ("l4proto", "nfproto"):
                fname = f"meta {w}"
                i += 1
            elif w == "ct" and i + 1 < n and words[i + 1] == "state":
                fname = "ct state"
                i += 2
            elif w in VERDICTS:
                rule.verdict = VERDICTS[w]
                i += 1
                if w == "reject":
                    while (i < n and words[i] in ("with", "tcp", "reset", "icmp", "icmpx", "icmpv6", "type")) or (
                        i > 0 and words[i - 1] == "type" and i < n
                    ):
                        i += 1
                continue
            elif w in ("jump", "goto"):
                rule.verdict = JUMP if w == "jump" else GOTO
                if i + 1 < n and words[i + 1] == "{":
                    body, k = _block(words, i + 1)
                    rule.anonymous = [_rule_from_tokens(stmt, number, " ".join(stmt), defines) for stmt in body]
                    i = k
                else:
                    rule.target = words[i + 1].strip('"') if i + 1 < n else None
                    i += 2
                continue
            elif w == "continue":
                i += 1
                continue
            elif w == "counter":
                i += 1
                while i < n and (words[i] in ("packets", "bytes", "name") or words[i].isdigit()):
                    i += 1
                continue
            elif w == "log":
                rule.log = True
                i += 1
                while i < n and words[i] in ("prefix", "level", "group", "snaplen", "queue-threshold", "flags"):
                    i += 2
                    while i < n and words[i] == ",":
                        i += 2
                continue
            elif w == "comment":
                rule.comment = words[i + 1].strip('"') if i + 1 < n else None
                i += 2
                continue
            elif w == "vmap" or (i + 1 < n and words[i + 1] == "vmap"):
                raise LineError("a verdict map here is not analysed")
            elif w in ("snat", "dnat", "masquerade", "redirect", "tproxy"):
                rule.unsupported = f"'{w}' translates addresses; NAT is not analysed"
                return rule
            elif w in ("queue",):
                rule.unsupported = "'queue' hands packets to a user-space program that decides; not analysed"
                return rule
            elif w in SELECTORS and i + 1 < n and words[i + 1] not in ("{",):
                # selector key [op] value: an expression the model does not express
                start = i
                i += 2
                if i < n and words[i] == ".":
                    raise LineError("concatenated matches are not analysed")
                if i < n and words[i] == "set":
                    _, i = value_at(i + 1)
                else:
                    if i < n and words[i] in OPS:
                        i += 1
                    if i < n and words[i] not in VERDICTS and words[i] not in ("jump", "goto", "counter", "log"):
                        _, i = value_at(i)
                if i < n and words[i] == ".":
                    raise LineError("concatenated matches are not analysed")
                rule.conditions.append(" ".join(words[start:i]))
                continue
            else:
                # an expression the model does not express: keep it as a condition
                start = i
                i += 1
                depth = 0
                while i < n:
                    if words[i] == "{":
                        depth += 1
                    elif words[i] == "}":
                        depth -= 1
                    elif depth == 0 and words[i] in STATEMENT_WORDS and words[i] not in ("set", "add", "update"):
                        break
                    i += 1
                text = " ".join(words[start:i])
                if " . " in f" {text} ":
                    raise LineError("concatenated matches are not analysed")
                rule.conditions.append(text)
                continue
            op = "=="
            if i < n and words[i] in OPS:
                op = OPS[words[i]]
                i += 1
            if i < n and words[i] == "vmap":
                values, k = value_at(i + 1)
                rule.matches.append(Match(fname, "vmap", values))
                i = k
                continue
            values, i = value_at(i)
            if values == ["."] or (i < n and words[i] == "."):
                raise LineError("concatenated matches are not analysed")
            rule.matches.append(Match(fname, op, values))
    except LineError as exc:
        rule.unsupported = str(exc)
    except IndexError:
        rule.unsupported = "incomplete rule"
    return rule


def _block(words: list[str], start: int) -> tuple[list[list[str]], int]:
    """Statements of a '{ ... }' block at ``start`` (split on newlines/';') and the index after it."""
    depth = 0
    k = start
    body: list[list[str]] = [[]]
    while k < len(words):
        w = words[k]
        if w == "{":
            depth += 1
            if depth == 1:
                k += 1
                continue
        elif w == "}":
            depth -= 1
            if depth == 0:
                k += 1
                break
        if depth == 1 and w in ("\n", ";"):
            body.append([])
        else:
            body[-1].append(w)
        k += 1
    return [b for b in body if b], k


# ------------------------------------------------------------------ to the normalized model


def _addr_values(values: list, table: Table, what: str) -> iv.IVS:
    out = []
    for v in values:
        if isinstance(v, tuple):
            elements = table.sets.get(v[1], None)
            if elements is None:
                raise _Inexact(f"set @{v[1]} is dynamic or not defined")
            out.append(_addr_values(elements, table, what))
        else:
            out.append(address(v))
    return iv.union_all(out)


def _port_values(values: list, table: Table) -> iv.IVS:
    out = []
    for v in values:
        if isinstance(v, tuple):
            elements = table.sets.get(v[1], None)
            if elements is None:
                raise _Inexact(f"set @{v[1]} is dynamic or not defined")
            out.append(_port_values(elements, table))
        else:
            text = str(v)
            if "-" in text and not text.startswith("-"):
                lo, hi = text.split("-", 1)
                out.append(port_span(f"{_port(lo)}-{_port(hi)}"))
            else:
                out.append(port_span(str(_port(text))))
    return iv.union_all(out)


def _port(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text in PORT_NAMES:
        return PORT_NAMES[text]
    raise LineError(f"unknown port '{text}'")


def _proto_values(values: list) -> iv.IVS:
    out = []
    for v in values:
        if isinstance(v, tuple):
            raise _Inexact(f"protocol set @{v[1]}")
        name = {"ipv6-icmp": "58", "icmpv6": "58"}.get(str(v), str(v))
        try:
            out.append(protocol_ivs(name))
        except ValueError as exc:
            raise LineError(str(exc)) from None
    return iv.union_all(out)


class _Inexact(Exception):
    pass


def _build(rs: Ruleset, r: NftRule, chain: Chain, table: Table, list_name: str, target_prefix: str) -> list[Rule]:
    """Normalized rules of one nft rule (several when a verdict map expands)."""
    family_all = FAMILY_ALL.get(table.family, iv.ADDR_ALL)
    src, dst = family_all, family_all
    proto = iv.PROTO_ALL
    sport = dport = iv.PORT_ALL
    in_if = out_if = None
    in_neg = out_neg = False
    new_only = True
    stateful = False
    conditions = list(r.conditions)
    vmaps: list[Match] = []
    for m in r.matches:
        try:
            neg = m.op == "!="
            if m.op in ("<", ">", "<=", ">="):
                if m.field.endswith(("dport", "sport")) and len(m.values) == 1 and str(m.values[0]).isdigit():
                    p = int(m.values[0])
                    span = {"<": (0, p - 1), ">": (p + 1, 65535), "<=": (0, p), ">=": (p, 65535)}[m.op]
                    m = Match(m.field, "==", [f"{span[0]}-{span[1]}"])
                else:
                    raise _Inexact(f"{m.field} {m.op} {m.values}")
            if m.op == "vmap":
                vmaps.append(m)
                continue
            f = m.field
            if f in ("ip saddr", "ip daddr", "ip6 saddr", "ip6 daddr"):
                fam = iv.V4_ALL if f.startswith("ip ") else iv.V6_ALL
                src, dst = iv.intersect(src, fam), iv.intersect(dst, fam)
                s = _addr_values(m.values, table, f)
                s = iv.subtract(fam, s) if neg else iv.intersect(s, fam)
                if f.endswith("saddr"):
                    src = iv.intersect(src, s)
                    dst = iv.intersect(dst, fam)
                else:
                    dst = iv.intersect(dst, s)
                    src = iv.intersect(src, fam)
            elif f in ("ip protocol", "ip6 nexthdr", "meta l4proto"):
                p = _proto_values(m.values)
                proto = iv.intersect(proto, iv.subtract(iv.PROTO_ALL, p) if neg else p)
                if f == "ip protocol":
                    src, dst = iv.intersect(src, iv.V4_ALL), iv.intersect(dst, iv.V4_ALL)
                elif f == "ip6 nexthdr":
                    src, dst = iv.intersect(src, iv.V6_ALL), iv.intersect(dst, iv.V6_ALL)
            elif f in ("meta nfproto", "meta protocol"):
                fams = iv.union_all(
                    {"ipv4": iv.V4_ALL, "ip": iv.V4_ALL, "ipv6": iv.V6_ALL, "ip6": iv.V6_ALL}.get(str(v), iv.EMPTY)
                    for v in m.values
                )
                fams = iv.subtract(iv.ADDR_ALL, fams) if neg else fams
                src, dst = iv.intersect(src, fams), iv.intersect(dst, fams)
            elif f.endswith(("dport", "sport")):
                l4 = f.split()[0]
                ports = _port_values(m.values, table)
                ports = iv.subtract(iv.PORT_ALL, ports) if neg else ports
                if f.endswith("dport"):
                    dport = iv.intersect(dport, ports)
                else:
                    sport = iv.intersect(sport, ports)
                implied = ((6, 6), (17, 17), (132, 132), (136, 136), (33, 33)) if l4 == "th" else ((L4[l4],) * 2,)
                proto = iv.intersect(proto, iv.ivs(implied))
            elif f in ("iifname", "oifname"):
                names = []
                for v in m.values:
                    if isinstance(v, tuple):
                        names.extend(table.sets.get(v[1]) or [f"@{v[1]}"])
                    else:
                        names.append(str(v))
                if f == "iifname":
                    in_if, in_neg = tuple(names), neg
                else:
                    out_if, out_neg = tuple(names), neg
            elif f == "ct state":
                states = {str(v) for v in m.values}
                matches_new = bool(states & {"new", "untracked"})
                new_only = (not matches_new) if neg else matches_new
                stateful = True
            elif f.endswith("flags"):
                conditions.append(f"{f} {m.op} {m.values}")
            else:
                conditions.append(f"{f} {m.op} {m.values}")
        except _Inexact as exc:
            conditions.append(str(exc))
        except LineError as exc:
            rs.skip(r.line, r.text, str(exc))
            return []
    base = dict(
        src=src,
        dst=dst,
        protocols=proto,
        sport=sport,
        dport=dport,
        stateful=stateful,
        log=r.log,
        in_ifaces=in_if,
        out_ifaces=out_if,
        in_negated=in_neg,
        out_negated=out_neg,
        chain=list_name,
        location=Location(rs.file, r.line),
        text=r.text,
        name=r.comment,
        exact=not conditions,
        conditions=tuple(conditions),
        new_only=new_only,
    )
    if vmaps:
        if len(vmaps) > 1:
            rs.skip(r.line, r.text, "more than one verdict map in a rule is not analysed")
            return []
        return _expand_vmap(rs, r, vmaps[0], base, target_prefix, table)
    if r.verdict is None:
        if not r.log:
            rs.skip(r.line, r.text, "rule without a verdict (counter or marking only)")
        return [Rule(action="log", **base)] if r.log else []
    target = f"{target_prefix}{r.target}" if r.target else None
    return [Rule(action=r.verdict, target=target, **base)]


def _expand_vmap(rs: Ruleset, r: NftRule, m: Match, base: dict, prefix: str, table: Table) -> list[Rule]:
    values: list = []
    for v in m.values:
        if isinstance(v, tuple):
            named = table.sets.get(v[1])
            if named is None:
                rs.skip(r.line, r.text, f"verdict map @{v[1]} is dynamic or not defined")
                return []
            values.extend(named)
        else:
            values.append(v)
    out = []
    # elements: key ':' verdict [target]
    pairs: list[tuple[str, list[str]]] = []
    items = [v for v in values if v not in (",", ":")]
    k = 0
    while k < len(items):
        if isinstance(items[k], tuple):
            rs.skip(r.line, r.text, "a named verdict map is not analysed")
            return []
        key = str(items[k])
        verdict = [str(items[k + 1])] if k + 1 < len(items) else ["continue"]
        k += 2
        if verdict[0] in ("jump", "goto"):
            verdict.append(str(items[k]) if k < len(items) else "")
            k += 1
        pairs.append((key, verdict))
    field_name = m.field
    for key, verdict in pairs:
        fields = dict(base)
        if field_name == "ct state":
            fields["new_only"] = key in ("new", "untracked")
            fields["stateful"] = True
        elif field_name in ("iifname", "oifname"):
            fields["in_ifaces" if field_name == "iifname" else "out_ifaces"] = (key,)
        elif field_name.endswith("dport"):
            try:
                fields["dport"] = port_span(key.replace("-", ":") if "-" in key else str(_port(key)))
            except LineError as exc:
                rs.skip(r.line, r.text, str(exc))
                return []
        else:
            rs.skip(r.line, r.text, f"a verdict map on {field_name} is not analysed")
            return []
        if verdict[0] == "continue":
            continue
        if verdict[0] in ("jump", "goto"):
            out.append(Rule(action=JUMP if verdict[0] == "jump" else GOTO, target=f"{prefix}{verdict[1]}", **fields))
        elif verdict[0] in VERDICTS:
            out.append(Rule(action=VERDICTS[verdict[0]], **fields))
        else:
            rs.skip(r.line, r.text, f"verdict map entry '{key} : {verdict[0]}' has no verdict nftables knows")
            return []
    return out


def _assemble(rs: Ruleset, tables: dict, chains: dict) -> None:
    """Chains (with their tables) to rule lists in hook/priority order."""
    base = [c for c in chains.values() if c.hook]
    order = sorted(base, key=lambda c: (HOOK_ORDER.get(c.hook or "", 1), c.priority))
    stage_of = {id(c): i for i, c in enumerate(order)}
    for chain in chains.values():
        table = tables.get((chain.family, chain.table)) or Table(chain.family, chain.table)
        prefix = f"{chain.family} {chain.table} "
        name = f"{prefix}{chain.name}"
        if chain.family in ("arp", "bridge", "netdev"):
            for r in chain.rules:
                rs.skip(r.line, r.text, f"table family {chain.family} is not analysed (layer 2 or ingress)")
            continue
        if chain.type in ("nat", "route"):
            for r in chain.rules:
                rs.skip(r.line, r.text, f"{chain.type} chain: only filter chains are analysed")
            continue
        hook = chain.hook if chain.hook in HOOK_ORDER else None
        if chain.hook and hook is None:
            for r in chain.rules:
                rs.skip(r.line, r.text, f"hook {chain.hook} is not analysed")
            continue
        lst = rs.add_list(
            RuleList(
                name,
                default=(DROP if chain.policy == "drop" else PERMIT) if hook else RETURN,
                default_explicit=chain.policy_explicit,
                default_location=Location(rs.file, chain.policy_line or chain.line),
                hook=hook,
                stage=stage_of.get(id(chain), 0),
                family=chain.family if chain.family in ("ip", "ip6") else "any",
            )
        )
        for r in chain.rules:
            _add(rs, lst, r, chain, table, prefix, name)
    for lst in rs.lists.values():
        lst.rules = fold_log_rules(lst.rules)


def _add(rs, lst, r, chain, table, prefix, name) -> None:
    if r.unsupported:
        rs.skip(r.line, r.text, r.unsupported)
        return
    if r.anonymous is not None:
        anon_name = f"{name}@{r.line}"
        anon = rs.add_list(RuleList(anon_name, default=RETURN, hook=None, family=lst.family))
        for inner in r.anonymous:
            _add(rs, anon, inner, chain, table, prefix, anon_name)
        r.target = anon_name[len(prefix) :]
    lst.rules.extend(_build(rs, r, chain, table, name, prefix))


# ------------------------------------------------------------------ JSON


def _json_elements(expr) -> list:
    """A JSON right-hand side to the intermediate value list."""
    if isinstance(expr, (str, int)):
        s = str(expr)
        return [("@", s[1:])] if s.startswith("@") else [s]
    if isinstance(expr, dict):
        if "set" in expr:
            out = []
            for e in expr["set"]:
                out.extend(_json_elements(e))
            return out
        if "prefix" in expr:
            return [f"{expr['prefix']['addr']}/{expr['prefix']['len']}"]
        if "range" in expr:
            lo, hi = expr["range"]
            return [f"{lo}-{hi}"]
        if "elem" in expr:
            return _json_elements(expr["elem"].get("val"))
    if isinstance(expr, list):
        out = []
        for e in expr:
            out.extend(_json_elements(e))
        return out
    raise LineError(f"value not analysed: {json.dumps(expr)[:80]}")


def _json_rule(obj: dict, line: int, text: str) -> NftRule:
    rule = NftRule(line, text)
    rule.comment = obj.get("comment")
    for stmt in obj.get("expr") or []:
        if not isinstance(stmt, dict) or len(stmt) != 1:
            rule.unsupported = "malformed rule expression"
            return rule
        ((key, value),) = stmt.items()
        try:
            if key == "match":
                left, right, op = value.get("left"), value.get("right"), value.get("op", "==")
                op = {"in": "==", "==": "==", "!=": "!="}.get(op, op)
                fname = _json_field(left)
                if fname is None:
                    rule.conditions.append(json.dumps(left)[:80])
                    continue
                rule.matches.append(Match(fname, op, _json_elements(right)))
            elif key in ("accept", "drop", "return"):
                rule.verdict = VERDICTS[key]
            elif key == "reject":
                rule.verdict = REJECT
            elif key in ("jump", "goto"):
                rule.verdict = JUMP if key == "jump" else GOTO
                rule.target = value.get("target")
            elif key == "log":
                rule.log = True
            elif key in ("counter", "continue"):
                pass
            elif key in ("snat", "dnat", "masquerade", "redirect", "tproxy"):
                rule.unsupported = f"'{key}' translates addresses; NAT is not analysed"
                return rule
            elif key == "queue":
                rule.unsupported = "'queue' hands packets to a user-space program that decides; not analysed"
                return rule
            elif key == "xt":
                rule.conditions.append("xt (an iptables extension nft cannot show)")
            elif key == "vmap":
                fname = _json_field(value.get("key"))
                data = value.get("data", {})
                elems = data.get("set", []) if isinstance(data, dict) else []
                values: list = []
                for pair in elems:
                    k, v = pair
                    ((vk, vv),) = v.items()
                    values.extend([str(k), ":", vk] + ([vv["target"]] if isinstance(vv, dict) else []) + [","])
                if fname is None:
                    raise LineError("a verdict map on this key is not analysed")
                rule.matches.append(Match(fname, "vmap", values))
            else:
                rule.conditions.append(key)
        except (LineError, AttributeError, TypeError, ValueError, KeyError) as exc:
            rule.unsupported = str(exc) if isinstance(exc, LineError) else f"rule expression not analysed: {key}"
            return rule
    return rule


def _json_field(left) -> str | None:
    if not isinstance(left, dict):
        return None
    if "payload" in left:
        p = left["payload"]
        proto, fld = p.get("protocol"), p.get("field")
        if proto in ("ip", "ip6") and fld in ("saddr", "daddr", "protocol", "nexthdr"):
            return f"{proto} {fld}"
        if proto in (*L4, "th") and fld in ("sport", "dport"):
            return f"{proto} {fld}"
        return None
    if "meta" in left:
        k = left["meta"].get("key")
        if k in ("iifname", "oifname"):
            return k
        if k in ("iif", "oif"):
            return k + "name"
        if k in ("l4proto", "nfproto", "protocol"):
            return f"meta {k}"
        return None
    if "ct" in left and left["ct"].get("key") == "state":
        return "ct state"
    return None


def _parse_json(text: str, rs: Ruleset) -> tuple[dict, dict]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise rs.error(exc.lineno, f"not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise rs.error(1, "not nft JSON: expected an object with an 'nftables' list")
    # Locate each element's line: decode the array element by element.
    lines = _element_lines(text, len(doc["nftables"]))
    tables: dict = {}
    chains: dict = {}
    for index, item in enumerate(doc["nftables"]):
        line = lines[index] if index < len(lines) else 1
        if not isinstance(item, dict) or len(item) != 1:
            rs.skip(line, json.dumps(item)[:200], "not an nftables object")
            continue
        ((kind, obj),) = item.items()
        if not isinstance(obj, dict):
            continue
        if kind == "table":
            key = (obj.get("family", "ip"), obj.get("name", ""))
            tables.setdefault(key, Table(*key))
        elif kind == "chain":
            key = (obj.get("family", "ip"), obj.get("table", ""), obj.get("name", ""))
            chain = chains.setdefault(key, Chain(key[1], key[0], key[2], line))
            chain.type, chain.hook = obj.get("type"), obj.get("hook")
            prio = obj.get("prio", 0)
            chain.priority = prio if isinstance(prio, int) else _priority(str(prio).split())
            if "policy" in obj:
                chain.policy, chain.policy_explicit = obj["policy"], True
        elif kind in ("set", "map"):
            key = (obj.get("family", "ip"), obj.get("table", ""))
            table = tables.setdefault(key, Table(*key))
            if "elem" in obj:
                try:
                    table.sets[obj.get("name", "")] = [str(v) for v in _json_elements(obj["elem"])]
                except LineError:
                    table.sets[obj.get("name", "")] = None
            else:  # no elements: filled at run time
                table.sets[obj.get("name", "")] = None
        elif kind == "rule":
            key = (obj.get("family", "ip"), obj.get("table", ""), obj.get("chain", ""))
            chain = chains.setdefault(key, Chain(key[1], key[0], key[2], line))
            text_rule = json.dumps(obj.get("expr"), separators=(",", ":"))[:200]
            chain.rules.append(_json_rule(obj, line, text_rule))
        elif kind == "metainfo":
            continue
        else:
            rs.skip(line, json.dumps(item)[:200], f"'{kind}' objects are not analysed")
    return tables, chains


def _element_lines(text: str, count: int) -> list[int]:
    decoder = json.JSONDecoder()
    start = text.find("[", text.find('"nftables"'))
    out: list[int] = []
    pos = start + 1
    for _ in range(count):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        out.append(text.count("\n", 0, pos) + 1)
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
    return out


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("nftables", file)
    if text.lstrip().startswith("{"):
        tables, chains = _parse_json(text, rs)
        rs.notes.append("nft JSON")
    else:
        parser = _Parser(text, rs)
        parser.parse()
        if parser.statements == 0:
            raise rs.error(1, "no nftables statements found (expected 'table FAMILY NAME { ... }')")
        tables, chains = parser.tables, parser.chains
    _assemble(rs, tables, chains)
    return rs
