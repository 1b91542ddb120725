"""One normalized rule model for every firewall configuration format.

A parser turns a configuration file into a :class:`Ruleset`: rule lists (an
iptables or nftables chain, an ASA or IOS access-list, a FortiGate, SRX or PAN-OS
policy list), each an ordered, first-match list of :class:`Rule` with a default
action, plus the lines it skipped and why. Addresses, protocols and ports are
exact integer interval sets (see :mod:`zonewarden.rules.intervals`), so analysis
never depends on how a platform spelled them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zonewarden.errors import InputError, Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.intervals import IVS

PERMIT, DENY, DROP, REJECT = "permit", "deny", "drop", "reject"
TERMINAL = (PERMIT, DENY, DROP, REJECT)
JUMP, GOTO, RETURN = "jump", "goto", "return"  # chain control in iptables and nftables
BLOCKING = (DENY, DROP, REJECT)


class ConfigError(InputError):
    """A configuration file cannot be read as the platform's format; carries file:line."""


@dataclass(frozen=True)
class Skipped:
    """A line (or block) of a configuration that the analysis does not use, and why."""

    location: Location
    text: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "text": self.text,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Rule:
    """One rule: a match over header space and what happens to the packets it matches.

    ``src``/``dst`` are address interval sets (IPv4 and IPv6 in one integer line),
    ``protocols`` IP protocol numbers 0..255, ``sport``/``dport`` ports 0..65535 (full
    when the rule names none). ``in_ifaces``/``out_ifaces`` are interface (or platform
    zone) names the rule is bound to, with ``None`` meaning any; ``*_negated`` inverts
    them. ``exact`` is False when the rule has conditions the model cannot express
    (rate limits, users, applications, ...): it may then match less than its box.
    ``new_only`` is False for rules that only match established/related traffic.
    """

    action: str
    src: IVS = iv.ADDR_ALL
    dst: IVS = iv.ADDR_ALL
    protocols: IVS = iv.PROTO_ALL
    sport: IVS = iv.PORT_ALL
    dport: IVS = iv.PORT_ALL
    stateful: bool = False
    log: bool = False
    in_ifaces: tuple[str, ...] | None = None
    out_ifaces: tuple[str, ...] | None = None
    in_negated: bool = False
    out_negated: bool = False
    src_zones: tuple[str, ...] = ()
    dst_zones: tuple[str, ...] = ()
    chain: str = ""
    target: str | None = None  # the chain a jump or goto goes to
    location: Location = field(default_factory=lambda: Location("<config>"))
    text: str = ""
    name: str | None = None
    exact: bool = True
    conditions: tuple[str, ...] = ()
    new_only: bool = True
    disabled: bool = False

    @property
    def permits(self) -> bool:
        return self.action == PERMIT

    @property
    def blocks(self) -> bool:
        return self.action in BLOCKING

    @property
    def is_any_any(self) -> bool:
        return self.src in (iv.ADDR_ALL, iv.V4_ALL, iv.V6_ALL) and self.dst in (iv.ADDR_ALL, iv.V4_ALL, iv.V6_ALL)

    def describe(self) -> str:
        """A platform-neutral one-line summary of the match."""
        proto = protocols_text(self.protocols)
        parts = [self.action, proto, "from", iv.ivs_address_text(self.src)]
        if self.sport != iv.PORT_ALL:
            parts.append(f"port {iv.ivs_port_text(self.sport)}")
        parts += ["to", iv.ivs_address_text(self.dst)]
        if self.dport != iv.PORT_ALL:
            parts.append(f"port {iv.ivs_port_text(self.dport)}")
        if self.in_ifaces:
            parts.append(("in not " if self.in_negated else "in ") + ",".join(self.in_ifaces))
        if self.out_ifaces:
            parts.append(("out not " if self.out_negated else "out ") + ",".join(self.out_ifaces))
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "chain": self.chain,
            "action": self.action,
            "target": self.target,
            "src": iv.ivs_address_text(self.src, limit=50),
            "dst": iv.ivs_address_text(self.dst, limit=50),
            "protocols": protocols_text(self.protocols),
            "sport": iv.ivs_port_text(self.sport),
            "dport": iv.ivs_port_text(self.dport),
            "stateful": self.stateful,
            "log": self.log,
            "in": list(self.in_ifaces) if self.in_ifaces else None,
            "out": list(self.out_ifaces) if self.out_ifaces else None,
            "exact": self.exact,
            "conditions": list(self.conditions),
            "text": self.text,
        }


@dataclass
class RuleList:
    """An ordered first-match list: a chain, an access-list or a policy list.

    ``hook`` says which traffic reaches it: ``forward`` (through the device),
    ``input`` (to it), ``output`` (from it), or ``None`` for a list only reached by a
    jump. Lists of the same ``stage`` are alternatives chosen by interface (ASA/IOS
    per-interface ACLs); a packet must pass every stage in turn (nftables base
    chains on one hook). ``default`` is the action for packets no rule matches
    (``return`` for a user chain).
    """

    name: str
    rules: list[Rule] = field(default_factory=list)
    default: str = DROP
    default_explicit: bool = False
    default_location: Location | None = None
    hook: str | None = "forward"
    stage: int = 0
    family: str = "any"  # ip, ip6 or any: what an unspecified address means
    primary: bool = True  # the platform's filtering list (not a raw/mangle table): judged for a default allow


@dataclass
class Ruleset:
    """Everything a parser read from one configuration file."""

    platform: str
    file: str
    lists: dict[str, RuleList] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stateless: bool = False  # replies need their own permits (IOS ACLs): they are read as replies

    def skip(self, line: int, text: str, reason: str) -> None:
        self.skipped.append(Skipped(Location(self.file, line), text.strip()[:200], reason))

    def add_list(self, rule_list: RuleList) -> RuleList:
        return self.lists.setdefault(rule_list.name, rule_list)

    @property
    def rules(self) -> list[Rule]:
        return [r for lst in self.lists.values() for r in lst.rules]

    def error(self, line: int, message: str) -> ConfigError:
        return ConfigError(message, Location(self.file, line))


def same_match(a: Rule, b: Rule) -> bool:
    """Whether two rules match the same packets (same box, interfaces, conditions and state)."""
    return (
        a.src == b.src
        and a.dst == b.dst
        and a.protocols == b.protocols
        and a.sport == b.sport
        and a.dport == b.dport
        and a.in_ifaces == b.in_ifaces
        and a.out_ifaces == b.out_ifaces
        and a.in_negated == b.in_negated
        and a.out_negated == b.out_negated
        and a.conditions == b.conditions
        and a.new_only == b.new_only
    )


def fold_log_rules(rules: list[Rule]) -> list[Rule]:
    """Drop log-only rules (action ``log``), giving their logging to the next rule with the same match."""
    from dataclasses import replace

    out: list[Rule] = []
    pending: Rule | None = None
    for rule in rules:
        if rule.action == "log":
            pending = rule
            continue
        if pending is not None and same_match(pending, rule) and not rule.log:
            rule = replace(rule, log=True)
        pending = None
        out.append(rule)
    return out


PROTOCOL_NUMBERS = {
    "ip": None,
    "all": None,
    "any": None,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "ipinip": 4,
    "tcp": 6,
    "egp": 8,
    "igp": 9,
    "udp": 17,
    "ipv6": 41,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmp6": 58,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "eigrp": 88,
    "ospf": 89,
    "ospfigp": 89,
    "nos": 94,
    "pim": 103,
    "pcp": 108,
    "vrrp": 112,
    "l2tp": 115,
    "sctp": 132,
    "udplite": 136,
    "mh": 135,
    "snp": 109,
}
_NAMES_BY_NUMBER = {}
for _name, _number in PROTOCOL_NUMBERS.items():
    if _number is not None:
        _NAMES_BY_NUMBER.setdefault(_number, _name)


def protocol_ivs(name: str) -> IVS:
    """Protocol name or number -> interval set; raises ValueError when unknown."""
    key = name.strip().lower()
    if key.isdigit():
        n = int(key)
        if not 0 <= n <= 255:
            raise ValueError(f"protocol number {n} is out of range 0-255")
        return iv.point(n)
    if key not in PROTOCOL_NUMBERS:
        raise ValueError(f"unknown protocol '{name}'")
    number = PROTOCOL_NUMBERS[key]
    return iv.PROTO_ALL if number is None else iv.point(number)


def protocols_text(a: IVS) -> str:
    if a == iv.PROTO_ALL:
        return "ip"
    names = []
    for lo, hi in a:
        if hi - lo > 4:
            names.append(f"{lo}-{hi}")
        else:
            names.extend(_NAMES_BY_NUMBER.get(n, str(n)) for n in range(lo, hi + 1))
    return ",".join(names)


# Service names the platforms accept in place of port numbers (IANA names plus Cisco's keywords).
PORT_NAMES = {
    "echo": 7,
    "discard": 9,
    "daytime": 13,
    "chargen": 19,
    "ftp-data": 20,
    "ftp": 21,
    "ssh": 22,
    "telnet": 23,
    "smtp": 25,
    "time": 37,
    "nameserver": 42,
    "whois": 43,
    "tacacs": 49,
    "domain": 53,
    "dns": 53,
    "bootps": 67,
    "bootpc": 68,
    "tftp": 69,
    "gopher": 70,
    "finger": 79,
    "www": 80,
    "http": 80,
    "kerberos": 88,
    "hostname": 101,
    "pop2": 109,
    "pop3": 110,
    "sunrpc": 111,
    "rpc": 111,
    "ident": 113,
    "nntp": 119,
    "ntp": 123,
    "netbios-ns": 137,
    "netbios-dgm": 138,
    "netbios-ssn": 139,
    "imap4": 143,
    "imap": 143,
    "snmp": 161,
    "snmptrap": 162,
    "snmp-trap": 162,
    "xdmcp": 177,
    "bgp": 179,
    "irc": 194,
    "dnsix": 195,
    "ldap": 389,
    "mobile-ip": 434,
    "https": 443,
    "pim-auto-rp": 496,
    "microsoft-ds": 445,
    "isakmp": 500,
    "biff": 512,
    "exec": 512,
    "login": 513,
    "who": 513,
    "cmd": 514,
    "rsh": 514,
    "syslog": 514,
    "lpd": 515,
    "talk": 517,
    "rip": 520,
    "uucp": 540,
    "klogin": 543,
    "kshell": 544,
    "rtsp": 554,
    "ldaps": 636,
    "kerberos-adm": 749,
    "lotusnotes": 1352,
    "citrix-ica": 1494,
    "sqlnet": 1521,
    "radius": 1645,
    "radius-acct": 1646,
    "h323": 1720,
    "pptp": 1723,
    "nfs": 2049,
    "ctiqbe": 2748,
    "cifs": 3020,
    "sip": 5060,
    "aol": 5190,
    "pcanywhere-data": 5631,
    "pcanywhere-status": 5632,
    "secureid-udp": 5510,
    "vxlan": 4789,
    "rdp": 3389,
    "ms-wbt-server": 3389,
    "mysql": 3306,
    "postgresql": 5432,
    "imaps": 993,
    "pop3s": 995,
    "submission": 587,
    "smtps": 465,
    "non500-isakmp": 4500,
    "ipsec-nat-t": 4500,
    "modbus": 502,
    "dnp": 20000,
    "dnp3": 20000,
    "iso-tsap": 102,
    "echo-request": 8,
    "bfd": 3784,
    "bfd-echo": 3785,
    "mlag": 4432,
    "bootp": 67,
    "pop-3": 110,
    "imap-4": 143,
}


def port_number(text: str) -> int:
    """A port number or service name; raises ValueError."""
    key = text.strip().lower()
    if key.isdigit():
        n = int(key)
        if not 0 <= n <= 65535:
            raise ValueError(f"port {n} is out of range 0-65535")
        return n
    if key in PORT_NAMES:
        return PORT_NAMES[key]
    raise ValueError(f"unknown port name '{text}'")


def port_operator(op: str, args: list[str]) -> IVS:
    """Cisco-style port operators: eq (one or more), neq, lt, gt, range."""
    op = op.lower()
    if op == "eq":
        return iv.ivs((p, p) for p in (port_number(a) for a in args))
    if op == "neq":
        return iv.complement(iv.ivs((p, p) for p in (port_number(a) for a in args)), iv.PORT_ALL)
    if op == "lt":
        return iv.ivs([(0, port_number(args[0]) - 1)])
    if op == "gt":
        return iv.ivs([(port_number(args[0]) + 1, 65535)])
    if op == "range":
        lo, hi = port_number(args[0]), port_number(args[1])
        if lo > hi:
            raise ValueError(f"port range {lo}-{hi} is empty")
        return ((lo, hi),)
    raise ValueError(f"unknown port operator '{op}'")
