"""Juniper SRX (Junos) security policies, from ``show configuration | display set`` lines or
the hierarchical brace format (what Aerleon's ``srx`` target renders).

Both formats are first flattened into *statements*: the full path of words of each leaf
(``security policies from-zone a to-zone b policy p match source-address x``) with its line,
so one interpreter reads both. ``[ a b ]`` lists become one statement per element;
``inactive:``/``deactivate`` mark statements inactive, ``delete`` removes earlier ones,
``insert ... before|after policy`` reorders, ``edit``/``top``/``up`` move the set context.
The same flattening serves PAN-OS' set and brace formats (:mod:`.panos`).

Policies form one first-match list: the zone-pair policies (``from-zone X to-zone Y``, the
zones are the rules' in/out interfaces, so a packet only meets its own pair's policies),
then the global policies (``match from-zone/to-zone`` bind them to zones), then
``default-policy`` (deny-all unless ``permit-all``). Policies to or from the device itself
(``junos-host``) are their own input/output lists. Addresses resolve in the zone's attached
(or legacy per-zone) address book, then the global one; applications in the custom
``applications`` (terms, application-sets) then a table of common predefined ``junos-*``
applications. An application the table does not know (ALG and RPC applications among them)
makes the rule inexact, matched as any protocol, and is reported as skipped. Stateless
``firewall filter`` terms, NAT rules, configuration groups and logical systems are
reported as skipped. Malformed braces raise :class:`ConfigError` with the line.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import (
    LineError,
    address,
    config_lines,
    port_span,
    service_rules,
    tokens,
    wildcard_ivs,
)
from zonewarden.rules.ruleset import DENY, PERMIT, REJECT, Rule, RuleList, Ruleset, protocol_ivs

# ----------------------------------------------------------------------------- flattening


@dataclass(frozen=True)
class Stmt:
    """One leaf statement: its full path of words, line, source text and whether it is inactive."""

    words: tuple[str, ...]
    line: int
    text: str
    inactive: bool = False


@dataclass
class Flat:
    """The statements of a file, the first line of every path prefix, and ``insert`` moves."""

    stmts: list[Stmt] = field(default_factory=list)
    first_line: dict[tuple[str, ...], int] = field(default_factory=dict)
    inserts: list[tuple[tuple[str, ...], str, tuple[str, ...], int]] = field(default_factory=list)

    def add(self, words: tuple[str, ...], line: int, text: str, inactive: bool = False) -> None:
        self.stmts.append(Stmt(words, line, text, inactive))
        for n in range(1, len(words) + 1):
            self.first_line.setdefault(words[:n], line)

    def line_of(self, prefix: tuple[str, ...], default: int = 0) -> int:
        return self.first_line.get(prefix, default)


_PREFIXES = {"replace:", "inactive:", "protect:", "delete:", "active:", "update:", "apply-flags"}
_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"'  # quoted string (one line)
    r'|"(?:[^"\\]|\\.)*"'  # quoted string over lines
    r"|/\*.*?\*/"  # comment
    r"|/\*"  # unterminated comment
    r"|#[^\n]*"  # comment to the end of the line
    r"|[{};\[\]]"
    r'|"[^\n]*'  # unterminated quote: the rest of the line is one word
    r'|[^\s{};\[\]"]+',
    re.S,
)


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] == '"':
        return word[1:-1].replace('\\"', '"')
    return word.lstrip('"')


def _expand(words: list[str]) -> list[tuple[str, ...]]:
    """``a b [ c d ]`` -> ``(a b c)``, ``(a b d)``; a list with nothing in it gives the bare path."""
    if "[" not in words:
        return [tuple(words)]
    i = words.index("[")
    j = words.index("]", i) if "]" in words[i:] else len(words)
    head, items, tail = words[:i], [w for w in words[i + 1 : j] if w not in ("[", "]")], words[j + 1 :]
    if not items:
        return [tuple(head + tail)]
    return [tuple([*head, item, *tail]) for item in items]


def flatten_braces(text: str, rs: Ruleset) -> Flat:
    """The hierarchical ``name { child; }`` format as statements; ConfigError on unbalanced braces."""
    flat = Flat()
    starts = [m.start() for m in re.finditer("\n", text)]

    def line_at(pos: int) -> int:
        return bisect.bisect_left(starts, pos) + 1

    stack: list[tuple[tuple[str, ...], int, bool]] = []
    cur: list[str] = []
    cur_line = 0
    in_list = False
    prefix_inactive = False

    def path() -> tuple[str, ...]:
        return stack[-1][0] if stack else ()

    def parent_inactive() -> bool:
        return stack[-1][2] if stack else False

    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok.startswith("#") or (tok.startswith("/*") and tok.endswith("*/") and len(tok) >= 4):
            continue
        line = line_at(m.start())
        if tok == "/*":
            raise rs.error(line, "comment '/*' is not closed with '*/'")
        if tok == "{":
            if in_list:
                raise rs.error(line, "'{' inside a '[ ]' list")
            if not cur:
                raise rs.error(line, "'{' without a statement name before it")
            words = tuple(cur)
            full = path() + words
            flat.first_line.setdefault(full, cur_line)
            for n in range(1, len(full)):
                flat.first_line.setdefault(full[:n], cur_line)
            stack.append((full, cur_line, prefix_inactive or parent_inactive()))
            cur, prefix_inactive = [], False
        elif tok == ";":
            if in_list:
                raise rs.error(line, "';' inside a '[ ]' list (missing ']')")
            if cur:
                inactive = prefix_inactive or parent_inactive()
                raw = " ".join(cur)
                for words in _expand(cur):
                    flat.add(path() + words, cur_line, raw, inactive)
            cur, prefix_inactive = [], False
        elif tok == "}":
            if in_list:
                raise rs.error(line, "'}' inside a '[ ]' list (missing ']')")
            if cur:
                rs.skip(cur_line, " ".join(cur), "statement not ended with ';' (ignored)")
                cur, prefix_inactive = [], False
            if not stack:
                raise rs.error(line, "'}' without a matching '{'")
            stack.pop()
        elif tok == "[":
            if in_list:
                raise rs.error(line, "'[' inside a '[ ]' list")
            in_list = True
            if not cur:
                cur_line = line
            cur.append("[")
        elif tok == "]":
            if not in_list:
                raise rs.error(line, "']' without a matching '['")
            in_list = False
            cur.append("]")
        else:
            if not cur and not in_list and tok in _PREFIXES:
                if tok in ("inactive:", "delete:"):
                    prefix_inactive = True
                continue
            if not cur:
                cur_line = line
            cur.append(_unquote(tok))
    if in_list:
        raise rs.error(cur_line, "'[' list is not closed with ']'")
    if stack:
        opened = stack[-1]
        raise rs.error(opened[1], f"block '{' '.join(opened[0][-2:])}' opened here is not closed with '}}'")
    if cur:
        rs.skip(cur_line, " ".join(cur), "statement not ended with ';' (ignored)")
    return flat


_CLI_COMMANDS = {
    "configure",
    "commit",
    "exit",
    "quit",
    "run",
    "show",
    "load",
    "rollback",
    "save",
    "status",
    "help",
    "wildcard",
    "annotate",
    "rename",
    "copy",
    "protect",
    "unprotect",
    "replace",
}


def flatten_set(
    text: str, rs: Ruleset, what: str = "Junos", extra: Callable[[int, list[str]], bool] | None = None
) -> Flat:
    """``set``/``delete``/``deactivate``/``activate``/``insert``/``edit`` lines as statements;
    ``extra(line, words)`` may claim other commands (PAN-OS ``move``)."""
    flat = Flat()
    deactivated: list[tuple[str, ...]] = []
    edit: list[tuple[str, ...]] = []
    for number, raw in enumerate(config_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")) or (line.startswith("{") and line.endswith("}")):
            continue
        if line.startswith("[edit") and line.endswith("]"):
            continue
        words = [w for w in tokens(line) if w]
        if not words:
            continue
        head, rest = words[0], words[1:]
        base = tuple(w for part in edit for w in part)
        if extra is not None and extra(number, words):
            continue
        if head == "set":
            if not rest:
                rs.skip(number, raw, "'set' with nothing to set")
                continue
            for path in _expand(rest):
                flat.add(base + path, number, line)
        elif head == "delete":
            prefix = base + tuple(rest)
            flat.stmts = [s for s in flat.stmts if s.words[: len(prefix)] != prefix]
        elif head == "deactivate" and rest:
            deactivated.append(base + tuple(rest))
        elif head == "activate" and rest:
            prefix = base + tuple(rest)
            deactivated = [d for d in deactivated if d != prefix]
        elif head == "insert":
            if "before" in rest or "after" in rest:
                k = rest.index("before") if "before" in rest else rest.index("after")
                moved = base + tuple(rest[:k])
                anchor_tail = tuple(rest[k + 1 :])
                if not anchor_tail or len(moved) < len(anchor_tail):
                    rs.skip(number, raw, "'insert' not understood")
                    continue
                anchor = moved[: len(moved) - len(anchor_tail)] + anchor_tail
                flat.inserts.append((moved, rest[k], anchor, number))
            else:
                rs.skip(number, raw, "'insert' without 'before' or 'after'")
        elif head == "edit":
            edit.append(tuple(rest))
        elif head == "top":
            edit = []
        elif head == "up" or (head in ("exit", "quit") and edit):
            edit = edit[:-1]
        elif head.lower() in _CLI_COMMANDS or head.startswith(("commit", "configure")):
            rs.skip(number, raw, f"CLI command '{head}', not configuration (ignored)")
        else:
            rs.skip(number, raw, f"not a {what} configuration command ('{head}')")
    if deactivated:
        flat.stmts = [
            Stmt(s.words, s.line, s.text, True) if any(s.words[: len(d)] == d for d in deactivated) else s
            for s in flat.stmts
        ]
    return flat


def is_set_format(text: str) -> bool:
    """Whether ``text`` is set commands rather than the brace format."""
    set_lines = braces = 0
    for raw in config_lines(text)[:5000]:
        line = raw.strip()
        if not line or line.startswith(("#", "/*", "*")):
            continue
        if re.match(r"^(set|deactivate|delete|activate|insert|edit)\s", line):
            set_lines += 1
        elif line.endswith(("{", "}")) and not (line.startswith("{") and line.endswith("}")):
            braces += 1
    return set_lines > 0 and set_lines >= braces


def flatten(text: str, rs: Ruleset, what: str) -> Flat:
    if is_set_format(text):
        return flatten_set(text, rs, what)
    if "{" not in text:
        raise rs.error(1, f"no {what} configuration found (neither 'set' lines nor a '{{ }}' hierarchy)")
    return flatten_braces(text, rs)


def apply_inserts(order: list[tuple[str, ...]], flat: Flat, rs: Ruleset) -> list[tuple[str, ...]]:
    """Reorder rule paths by the ``insert P before|after Q`` commands that name them."""
    for moved, where, anchor, _number in flat.inserts:
        if moved not in order or anchor not in order:
            continue
        order.remove(moved)
        i = order.index(anchor)
        order.insert(i if where == "before" else i + 1, moved)
    return order


# ----------------------------------------------------------------------------- Junos objects

ANY_ADDRESS = {"any": iv.ADDR_ALL, "any-ipv4": iv.V4_ALL, "any-ipv6": iv.V6_ALL}

# Common predefined Junos applications: protocol/destination ports ("*" = inexact: the match
# also depends on ICMP types or an ALG the model does not carry). Names and ports follow the
# junos-defaults group; ALG/RPC applications (junos-ms-rpc*, junos-sun-rpc*, junos-sip,
# junos-h323, ...) are deliberately left out, so rules using them are marked inexact.
PREDEFINED = {
    "junos-http": "tcp/80",
    "junos-https": "tcp/443",
    "junos-http-ext": "tcp/7001",
    "junos-ssh": "tcp/22",
    "junos-telnet": "tcp/23",
    "junos-ftp": "tcp/21",
    "junos-ftp-data": "tcp/20",
    "junos-tftp": "udp/69",
    "junos-dns-udp": "udp/53",
    "junos-dns-tcp": "tcp/53",
    "junos-ntp": "udp/123",
    "junos-smtp": "tcp/25",
    "junos-smtps": "tcp/465",
    "junos-mail": "tcp/25",
    "junos-pop3": "tcp/110",
    "junos-imap": "tcp/143",
    "junos-imaps": "tcp/993",
    "junos-ldap": "tcp/389",
    "junos-syslog": "udp/514",
    "junos-snmp-agentx": "tcp/705",
    "junos-bgp": "tcp/179",
    "junos-bootpc": "udp/68",
    "junos-bootps": "udp/67",
    "junos-dhcp-client": "udp/68",
    "junos-dhcp-server": "udp/67",
    "junos-dhcp-relay": "udp/67",
    "junos-finger": "tcp/79",
    "junos-gopher": "tcp/70",
    "junos-ident": "tcp/113",
    "junos-whois": "tcp/43",
    "junos-nntp": "tcp/119",
    "junos-irc": "tcp/6660-6669",
    "junos-aol": "tcp/5190-5193",
    "junos-msn": "tcp/1863",
    "junos-ms-sql": "tcp/1433",
    "junos-pptp": "tcp/1723",
    "junos-l2tp": "udp/1701",
    "junos-lpr": "tcp/515",
    "junos-printer": "tcp/515",
    "junos-rsh": "tcp/514",
    "junos-uucp": "tcp/540",
    "junos-wais": "tcp/210",
    "junos-cvspserver": "tcp/2401",
    "junos-x-windows": "tcp/6000-6063",
    "junos-talk": "udp/517",
    "junos-ntalk": "udp/518",
    "junos-who": "udp/513",
    "junos-biff": "udp/512",
    "junos-chargen": "udp/19",
    "junos-discard": "udp/9",
    "junos-echo": "udp/7",
    "junos-gnutella": "udp/6346-6347",
    "junos-pc-anywhere": "udp/5632",
    "junos-nbname": "udp/137",
    "junos-nbds": "udp/138",
    "junos-netbios-session": "tcp/139",
    "junos-smb-session": "tcp/445",
    "junos-nfsd-tcp": "tcp/2049",
    "junos-nfsd-udp": "udp/2049",
    "junos-ldp-tcp": "tcp/646",
    "junos-ldp-udp": "udp/646",
    "junos-rip": "udp/520",
    "junos-radius": "udp/1812",
    "junos-radacct": "udp/1813",
    "junos-tacacs": "tcp/49",
    "junos-tacacs-ds": "tcp/65",
    "junos-ike": "udp/500",
    "junos-ike-nat": "udp/4500",
    "junos-vnc": "tcp/5800",
    "junos-tcp-any": "tcp/0-65535",
    "junos-udp-any": "udp/0-65535",
    "junos-sctp-any": "sctp",
    "junos-icmp-all": "icmp",
    "junos-icmp6-all": "icmp6",
    "junos-icmp-ping": "icmp*icmp-type echo-request",
    "junos-ping": "icmp*icmp-type echo-request",
    "junos-pingv6": "icmp6*icmp6-type echo-request",
    "junos-gre": "gre",
    "junos-ospf": "ospf",
}
# Port names Junos accepts that the shared table lacks.
PORT_NAMES = {
    "afs": 1483,
    "cvspserver": 2401,
    "dhcp": 67,
    "eklogin": 2105,
    "ekshell": 2106,
    "excc": 512,
    "kerberos-sec": 88,
    "kpasswd": 761,
    "krb-prop": 754,
    "krbupdate": 760,
    "ldp": 646,
    "mobileip-agent": 434,
    "mobilip-mn": 435,
    "msdp": 639,
    "nfsd": 2049,
    "ntalk": 518,
    "printer": 515,
    "radacct": 1813,
    "radius": 1812,
    "rkinit": 2108,
    "snpp": 444,
    "socks": 1080,
    "tacacs-ds": 65,
    "timed": 525,
    "zephyr-clt": 2103,
    "zephyr-hm": 2104,
    "zephyr-srv": 2102,
    "bgp": 179,
}

Service = tuple[iv.IVS, iv.IVS, iv.IVS]  # protocols, source ports, destination ports


def ports(text: str) -> iv.IVS:
    """A Junos port: number, ``lo-hi`` range or name; raises LineError."""
    key = text.strip().lower()
    if key in PORT_NAMES:
        n = PORT_NAMES[key]
        return ((n, n),)
    return port_span(key)


def _predefined(spec: str) -> tuple[list[Service], list[str]]:
    body, _, condition = spec.partition("*")
    proto, _, dport = body.partition("/")
    p = protocol_ivs(proto)
    d = port_span(dport) if dport else iv.PORT_ALL
    return [(p, iv.PORT_ALL, d)], ([condition] if condition else [])


@dataclass
class Book:
    addresses: dict[str, tuple[list[str], int]] = field(default_factory=dict)
    sets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    zones: set[str] = field(default_factory=set)


@dataclass
class Objects:
    books: dict[str, Book] = field(default_factory=dict)
    apps: dict[str, dict[str, dict[str, list[str]]]] = field(default_factory=dict)
    app_sets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    app_lines: dict[str, int] = field(default_factory=dict)
    cache: dict[tuple[str, str], iv.IVS | None] = field(default_factory=dict)


def _book(objs: Objects, name: str) -> Book:
    return objs.books.setdefault(name, Book())


def _read_objects(flat: Flat, rs: Ruleset) -> Objects:
    objs = Objects()
    for s in flat.stmts:
        w = s.words
        if s.inactive:
            continue
        book: Book | None = None
        rest: tuple[str, ...] = ()
        if w[:2] == ("security", "address-book") and len(w) > 3:
            book, rest = _book(objs, w[2]), w[3:]
            if rest[0] == "attach" and len(rest) >= 3 and rest[1] == "zone":
                book.zones.add(rest[2])
                continue
        elif w[:3] == ("security", "zones", "security-zone") and len(w) > 5 and w[4] == "address-book":
            book, rest = _book(objs, f"zone {w[3]}"), w[5:]
            book.zones.add(w[3])
        elif w[:2] == ("applications", "application") and len(w) > 3:
            terms = objs.apps.setdefault(w[2], {})
            objs.app_lines.setdefault(w[2], s.line)
            if w[3] == "term" and len(w) > 5:
                term, pairs = w[4], w[5:]
            else:
                term, pairs = "", w[3:]
            keys = terms.setdefault(term, {})
            for i in range(0, len(pairs) - 1, 2):  # 'protocol tcp destination-port 80' on one line
                keys.setdefault(pairs[i], []).append(pairs[i + 1])
            continue
        elif w[:2] == ("applications", "application-set") and len(w) > 4:
            if w[3] in ("application", "application-set"):
                objs.app_sets.setdefault(w[2], []).append((w[3], w[4]))
            objs.app_lines.setdefault(w[2], s.line)
            continue
        if book is None or len(rest) < 2:
            continue
        if rest[0] == "address" and len(rest) >= 3:
            if rest[2] == "description":
                book.addresses.setdefault(rest[1], ([], s.line))
                continue
            book.addresses[rest[1]] = (list(rest[2:]), s.line)
        elif rest[0] == "address-set" and len(rest) >= 4 and rest[2] in ("address", "address-set"):
            book.sets.setdefault(rest[1], []).append((rest[2], rest[3]))
        elif rest[0] == "address-set":
            book.sets.setdefault(rest[1], [])
    return objs


def _address_value(rs: Ruleset, words: list[str], line: int, name: str) -> iv.IVS | None:
    try:
        if not words:
            raise LineError("no address given")
        if words[0] == "range-address" and len(words) >= 4 and words[2] == "to":
            return address(f"{words[1]}-{words[3]}")
        if words[0] == "wildcard-address" and len(words) >= 2:
            addr, _, mask = words[1].partition("/")
            inverted = (~int(ipaddress.IPv4Address(mask))) & 0xFFFFFFFF
            return wildcard_ivs(addr, str(ipaddress.IPv4Address(inverted)))
        if words[0] in ("dns-name", "range-address", "wildcard-address"):
            rs.skip(line, f"address {name} {' '.join(words)}", f"'{words[0]}' addresses are not analysed")
            return None
        return address(words[0])
    except (LineError, ValueError) as exc:
        rs.skip(line, f"address {name} {' '.join(words)}", f"address not understood: {exc}")
        return None


def _books_for(objs: Objects, zone: str | None) -> list[Book]:
    chosen = [b for b in objs.books.values() if zone is not None and zone in b.zones]
    glob = objs.books.get("global")
    if glob is not None:
        chosen.append(glob)
    chosen += [b for b in objs.books.values() if b not in chosen]
    return chosen


def resolve_address(rs: Ruleset, objs: Objects, name: str, zone: str | None, depth: int = 0) -> iv.IVS | None:
    if name in ANY_ADDRESS:
        return ANY_ADDRESS[name]
    key = (name, zone or "")
    if key in objs.cache:
        return objs.cache[key]
    objs.cache[key] = None  # cycle guard
    result: iv.IVS | None = None
    for book in _books_for(objs, zone):
        if name in book.addresses:
            words, line = book.addresses[name]
            result = _address_value(rs, words, line, name) if words else None
            break
        if name in book.sets:
            parts: list[iv.IVS] = []
            complete = True
            for _kind, member in book.sets[name]:
                found = resolve_address(rs, objs, member, zone, depth + 1) if depth < 32 else None
                if found is None:
                    complete = False
                    break
                parts.append(found)
            result = iv.union_all(parts) if complete else None
            break
    else:
        # a literal prefix (Aerleon and hand-written configs never do this, but be kind)
        try:
            result = address(name) if re.match(r"^[0-9a-fA-F:.]+/\d+$", name) else None
        except LineError:
            result = None
    objs.cache[key] = result
    return result


def _app_services(rs: Ruleset, objs: Objects, name: str, depth: int = 0) -> tuple[list[Service], list[str]] | None:
    """The services of an application or application-set, with conditions; None when unknown."""
    if name in objs.apps:
        out: list[Service] = []
        conditions: list[str] = []
        for term_name, keys in objs.apps[name].items():
            try:
                proto_words = keys.get("protocol", [])
                proto = protocol_ivs(proto_words[0]) if proto_words else None
                dport = iv.union_all(ports(p) for p in keys.get("destination-port", [])) or iv.PORT_ALL
                sport = iv.union_all(ports(p) for p in keys.get("source-port", [])) or iv.PORT_ALL
            except (LineError, ValueError) as exc:
                rs.skip(objs.app_lines.get(name, 0), f"application {name}", f"application not understood: {exc}")
                return None
            if proto is None:
                proto = (
                    iv.ivs([(6, 6), (17, 17)]) if "destination-port" in keys or "source-port" in keys else iv.PROTO_ALL
                )
            for k in ("icmp-type", "icmp-code", "icmp6-type", "icmp6-code", "uuid", "rpc-program-number"):
                if k in keys:
                    conditions.append(
                        f"application {name}{' term ' + term_name if term_name else ''} {k} {' '.join(keys[k])}"
                    )
            out.append((proto, sport, dport))
        return out, conditions
    if name in objs.app_sets and depth < 16:
        out, conditions = [], []
        for _kind, member in objs.app_sets[name]:
            found = _app_services(rs, objs, member, depth + 1)
            if found is None:
                return None
            out += found[0]
            conditions += found[1]
        return out, conditions
    if name in PREDEFINED:
        return _predefined(PREDEFINED[name])
    return None


# ----------------------------------------------------------------------------- policies


@dataclass
class Policy:
    name: str
    context: tuple[str, str] | None  # (from-zone, to-zone); None for a global policy
    line: int
    stmts: list[Stmt] = field(default_factory=list)


_IGNORED_POLICY_KEYS = {"description", "policy-rematch", "report-skip", "count"}


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("srx", file)
    flat = flatten(text, rs, "Junos")
    try:
        return _interpret(flat, rs)
    except RecursionError:
        raise rs.error(0, "the configuration nests too deeply to read") from None


def _interpret(flat: Flat, rs: Ruleset) -> Ruleset:
    objs = _read_objects(flat, rs)
    policies: dict[tuple[str, ...], Policy] = {}
    default = DENY
    default_line = 0
    reported: set[tuple[str, ...]] = set()
    for s in flat.stmts:
        w = s.words
        if w[:2] == ("system", "host-name") and len(w) > 2:
            rs.notes.append(f"hostname {w[2]}")
        if w[:2] == ("security", "policies"):
            rest = w[2:]
            if rest[:1] == ("from-zone",) and len(rest) >= 6 and rest[2] == "to-zone" and rest[4] == "policy":
                key = w[:8]
                pol = policies.get(key)
                if pol is None:
                    pol = policies[key] = Policy(rest[5], (rest[1], rest[3]), flat.line_of(key, s.line))
                pol.stmts.append(s)
            elif rest[:2] == ("global", "policy") and len(rest) >= 3:
                key = w[:5]
                pol = policies.get(key)
                if pol is None:
                    pol = policies[key] = Policy(rest[2], None, flat.line_of(key, s.line))
                pol.stmts.append(s)
            elif rest[:1] == ("default-policy",) and len(rest) >= 2 and not s.inactive:
                default = PERMIT if rest[1] == "permit-all" else DENY
                default_line = s.line
        else:
            _report_other(rs, s, reported)
    order = apply_inserts(list(policies), flat, rs)
    main = RuleList(
        "security-policies",
        default=default,
        default_explicit=bool(default_line),
        default_location=Location(rs.file, default_line or flat.line_of(("security", "policies"), 0)),
        hook="forward",
    )
    host_in = RuleList("junos-host-in", default=default, hook="input", primary=False)
    host_out = RuleList("junos-host-out", default=PERMIT, hook="output", primary=False)
    zone_rules: list[Rule] = []
    global_rules: list[Rule] = []
    for key in order:
        pol = policies[key]
        if pol.context is not None and pol.context[1] == "junos-host":
            target, lst = host_in.rules, host_in
        elif pol.context is not None and pol.context[0] == "junos-host":
            target, lst = host_out.rules, host_out
        elif pol.context is None:
            target, lst = global_rules, main
        else:
            target, lst = zone_rules, main
        target.extend(_policy_rules(rs, objs, pol, lst.name))
    main.rules = zone_rules + global_rules
    if main.rules or policies or default_line or any(s.words[:1] == ("security",) for s in flat.stmts):
        rs.add_list(main)
    for lst in (host_in, host_out):
        if lst.rules:
            rs.add_list(lst)
    return rs


def _report_other(rs: Ruleset, s: Stmt, reported: set[tuple[str, ...]]) -> None:
    """Skip reports for filtering statements outside the security policies (one per block)."""
    w = s.words
    block: tuple[str, ...] | None = None
    reason = ""
    if w[:1] == ("firewall",) and "term" in w:
        block, reason = w[: w.index("term") + 2], "stateless firewall filter terms are not analysed"
    elif w[:2] == ("security", "nat") and "rule" in w:
        block, reason = w[: w.index("rule") + 2], "NAT rules are not analysed (policies are read untranslated)"
    elif w[:1] == ("groups",) and len(w) > 2 and w[2] in ("security", "applications"):
        block, reason = w[:3], "configuration groups are not expanded (apply-groups)"
    elif w[:1] in (("logical-systems",), ("tenants",)) and "policies" in w:
        block, reason = w[:2], f"{w[0]} policies are not analysed"
    if block is not None and block not in reported:
        reported.add(block)
        rs.skip(s.line, " ".join(block), reason)


def _policy_rules(rs: Ruleset, objs: Objects, pol: Policy, list_name: str) -> list[Rule]:
    where = f"from-zone {pol.context[0]} to-zone {pol.context[1]}" if pol.context else "global"
    text = f"policy {pol.name} ({where})"
    active = [s for s in pol.stmts if not s.inactive]
    if not active:
        rs.skip(pol.line, text, "inactive (deactivated) policy")
        return []
    base = 7 if pol.context else 4  # index of the word after 'policy NAME'
    match: dict[str, list[tuple[str, int]]] = {}
    action: str | None = None
    log = False
    conditions: list[str] = []
    for s in active:
        rest = s.words[base + 1 :]
        if not rest:
            continue
        if rest[0] == "match" and len(rest) >= 2:
            key = rest[1]
            if key in ("source-address-excluded", "destination-address-excluded"):
                match.setdefault(key, [])
            elif len(rest) >= 3:
                match.setdefault(key, []).append((rest[2], s.line))
        elif rest[0] == "then" and len(rest) >= 2:
            if rest[1] in ("permit", "deny", "reject") and action is None:
                action = {"permit": PERMIT, "deny": DENY, "reject": REJECT}[rest[1]]
            elif rest[1] == "log":
                log = True
        elif rest[0] == "scheduler-name" and len(rest) >= 2:
            conditions.append(f"scheduler-name {rest[1]}")
        elif rest[0] not in _IGNORED_POLICY_KEYS:
            rs.skip(s.line, s.text, f"policy statement '{rest[0]}' is not analysed")
    missing = [k for k in ("source-address", "destination-address", "application") if k not in match]
    if missing:
        rs.skip(pol.line, text, f"incomplete policy (no match {', '.join(missing)}): not analysed")
        return []
    if action is None:
        rs.skip(pol.line, text, "policy without a permit, deny or reject action: not analysed")
        return []
    from_zone = pol.context[0] if pol.context else None
    to_zone = pol.context[1] if pol.context else None
    in_ifaces: tuple[str, ...] | None = (from_zone,) if from_zone else None
    out_ifaces: tuple[str, ...] | None = (to_zone,) if to_zone else None
    if not pol.context:
        zones_from = tuple(v for v, _ in match.get("from-zone", []))
        zones_to = tuple(v for v, _ in match.get("to-zone", []))
        in_ifaces = None if not zones_from or "any" in zones_from else zones_from
        out_ifaces = None if not zones_to or "any" in zones_to else zones_to
    src = _addresses(rs, objs, match["source-address"], from_zone, "source-address", conditions)
    dst = _addresses(rs, objs, match["destination-address"], to_zone, "destination-address", conditions)
    if "source-address-excluded" in match:
        src = iv.subtract(iv.ADDR_ALL, src)
    if "destination-address-excluded" in match:
        dst = iv.subtract(iv.ADDR_ALL, dst)
    for key in ("source-identity", "source-end-user-profile", "url-category", "dscp", "dscp-except"):
        for value, _line in match.get(key, []):
            conditions.append(f"{key} {value}")
    for value, _line in match.get("dynamic-application", []):
        if value not in ("any", "none"):
            conditions.append(f"dynamic-application {value}")
    services: list[Service] = []
    everything = False
    for name, line in match["application"]:
        if name == "any":
            everything = True
            continue
        found = _app_services(rs, objs, name)
        if found is None:
            rs.skip(
                line,
                f"application {name}",
                f"application '{name}' is not known: the policy is matched as any protocol (inexact)",
            )
            conditions.append(f"application {name} not analysed")
            everything = True
            continue
        services += found[0]
        conditions += found[1]
    if everything:
        services = [(iv.PROTO_ALL, iv.PORT_ALL, iv.PORT_ALL)]
    return service_rules(
        services, action, src, dst, log=log, in_ifaces=in_ifaces, out_ifaces=out_ifaces, chain=list_name,
        location=Location(rs.file, pol.line), text=text, name=pol.name, conditions=conditions,
    )  # fmt: skip


def _addresses(rs, objs: Objects, names, zone, key: str, conditions: list[str]) -> iv.IVS:
    out: list[iv.IVS] = []
    for name, line in names:
        value = resolve_address(rs, objs, name, zone)
        if value is None:
            conditions.append(f"{key} {name} not analysed")
            rs.skip(line, f"{key} {name}", f"address '{name}' is not defined or not analysed (the policy is inexact)")
            continue
        out.append(value)
    return iv.union_all(out)
