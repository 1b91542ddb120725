"""The plant as typed data: site, zones, conduits with their flows, and assets.

These pydantic models check shape and types only (one object at a time).
Referential integrity and OT design lints live in :mod:`zonewarden.model.validate`,
which sees the whole plant.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from zonewarden.model.protocols import OPERATION_PRESETS
from zonewarden.model.sl import SLVector

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"
Id = Annotated[
    str, Field(pattern=ID_PATTERN, max_length=80, description="stable identifier: letters, digits, - _ . : /")
]


_SEPARATORS = re.compile(r"[,;\s|]+")


def _as_list(value: Any) -> Any:
    """Accept one value or a list; split strings on commas, semicolons and whitespace."""
    if value is None:
        return []
    if isinstance(value, str):
        if not _SEPARATORS.search(value):
            return [value] if value else []
        return [part for part in _SEPARATORS.split(value.strip()) if part]
    if isinstance(value, (int, float)):
        return [value]
    return value


_SLUG_OK = re.compile(r"^[a-z0-9.-]+$")


def _slug(value: Any) -> Any:
    """Normalize enum-like words: 'Engineering Workstation' -> 'engineering-workstation'."""
    if isinstance(value, str):
        if _SLUG_OK.match(value):  # already canonical: the common case in big plants
            return value
        return re.sub(r"[\s_]+", "-", value.strip().lower())
    return value


def _sl_vector(value: Any) -> SLVector:
    return SLVector.parse(value)


SLVectorField = Annotated[
    SLVector,
    BeforeValidator(_sl_vector),
    PlainSerializer(lambda v: v.as_dict() if not v.is_uniform() else v[0], return_type=Any),
    WithJsonSchema(
        {
            "description": "security level 0-4: one level for all FRs, a list of 7 (FR1..FR7), "
            "or a mapping FR1..FR7 (or IAC, UC, SI, DC, RDF, TRE, RA) with optional 'default'",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 4},
                {"type": "string", "pattern": r"^\s*(SL[- ]?)?[0-4]\s*$|^[\s{\[(]*[0-4]([,;\s]+[0-4]){6}[\s}\])]*$"},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 4},
                    "minItems": 7,
                    "maxItems": 7,
                },
                {
                    "type": "object",
                    "propertyNames": {"pattern": "^(?i:FR[1-7]|IAC|UC|SI|DC|RDF|TRE|RA|default)$"},
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 4},
                },
            ],
        }
    ),
]


class ZoneKind(str, Enum):
    enterprise = "enterprise"
    external = "external"
    dmz = "dmz"
    operations = "operations"
    supervisory = "supervisory"
    control = "control"
    field = "field"
    safety = "safety"
    remote_access = "remote-access"
    vendor = "vendor"
    wireless = "wireless"
    other = "other"


class Enforcement(str, Enum):
    firewall = "firewall"
    dpi_firewall = "dpi-firewall"
    data_diode = "data-diode"
    gateway = "gateway"
    vpn = "vpn"
    router_acl = "router-acl"
    none = "none"


class ComponentType(str, Enum):
    """IEC 62443-4-2 component types."""

    software_application = "software-application"
    embedded_device = "embedded-device"
    host_device = "host-device"
    network_device = "network-device"


class Role(str, Enum):
    plc = "plc"
    rtu = "rtu"
    ied = "ied"
    safety_controller = "safety-controller"
    dcs_controller = "dcs-controller"
    hmi = "hmi"
    engineering_workstation = "engineering-workstation"
    operator_workstation = "operator-workstation"
    historian = "historian"
    scada_server = "scada-server"
    opc_server = "opc-server"
    application_server = "application-server"
    domain_controller = "domain-controller"
    jump_host = "jump-host"
    patch_server = "patch-server"
    antivirus_server = "antivirus-server"
    file_server = "file-server"
    backup_server = "backup-server"
    log_collector = "log-collector"
    ids_sensor = "ids-sensor"
    server = "server"
    workstation = "workstation"
    switch = "switch"
    router = "router"
    firewall = "firewall"
    data_diode = "data-diode"
    vpn_gateway = "vpn-gateway"
    protocol_gateway = "protocol-gateway"
    wireless_ap = "wireless-ap"
    drive = "drive"
    io_module = "io-module"
    sensor = "sensor"
    actuator = "actuator"
    analyzer = "analyzer"
    camera = "camera"
    printer = "printer"
    ups = "ups"
    other = "other"


ROLE_ALIASES = {
    "ews": "engineering-workstation",
    "eng-workstation": "engineering-workstation",
    "engineering-station": "engineering-workstation",
    "sis": "safety-controller",
    "safety-plc": "safety-controller",
    "ows": "operator-workstation",
    "scada": "scada-server",
    "dc": "domain-controller",
    "ap": "wireless-ap",
    "access-point": "wireless-ap",
    "vfd": "drive",
    "fw": "firewall",
    "l3-switch": "router",
    "opc": "opc-server",
    "io": "io-module",
    "remote-io": "io-module",
}

ROLE_COMPONENT_TYPE: dict[Role, ComponentType] = {
    **{
        r: ComponentType.embedded_device
        for r in (
            Role.plc,
            Role.rtu,
            Role.ied,
            Role.safety_controller,
            Role.dcs_controller,
            Role.drive,
            Role.io_module,
            Role.sensor,
            Role.actuator,
            Role.analyzer,
            Role.camera,
            Role.ups,
            Role.printer,
        )
    },
    **{
        r: ComponentType.host_device
        for r in (
            Role.hmi,
            Role.engineering_workstation,
            Role.operator_workstation,
            Role.historian,
            Role.scada_server,
            Role.opc_server,
            Role.application_server,
            Role.domain_controller,
            Role.jump_host,
            Role.patch_server,
            Role.antivirus_server,
            Role.file_server,
            Role.backup_server,
            Role.log_collector,
            Role.server,
            Role.workstation,
        )
    },
    **{
        r: ComponentType.network_device
        for r in (
            Role.switch,
            Role.router,
            Role.firewall,
            Role.data_diode,
            Role.vpn_gateway,
            Role.protocol_gateway,
            Role.wireless_ap,
            Role.ids_sensor,
        )
    },
}


def _role(value: Any) -> Any:
    value = _slug(value)
    return ROLE_ALIASES.get(value, value) if isinstance(value, str) else value


class Criticality(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


CONSEQUENCE_CATEGORIES = (
    "health-and-safety",
    "environment",
    "production",
    "financial",
    "regulatory",
    "confidentiality",
)


_MAC_CANONICAL = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def _mac(value: Any) -> str:
    if isinstance(value, str) and _MAC_CANONICAL.match(value):
        return value
    text = str(value).strip().lower()
    digits = re.sub(r"[:\-.\s]", "", text)
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        raise ValueError(f"not a MAC address: {value!r} (use aa:bb:cc:dd:ee:ff)")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _network(value: Any) -> Any:
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    text = str(value).strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            fixed = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"not an IP subnet: {text!r} ({exc})") from None
        raise ValueError(f"{text} has host bits set; did you mean {fixed}?") from None


_DOTTED = re.compile(r"^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


def _address(value: Any) -> Any:
    text = str(value).strip()
    if _DOTTED.match(text):  # the common IPv4 case, without ipaddress' per-octet parsing
        return ipaddress.IPv4Address(socket.inet_aton(text))
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r}") from None


Mac = Annotated[
    str,
    BeforeValidator(_mac),
    WithJsonSchema({"type": "string", "pattern": "^([0-9A-Fa-f]{2}[:.-]?){5}[0-9A-Fa-f]{2}$"}),
]
Network = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network,
    BeforeValidator(_network),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "subnet in CIDR notation, e.g. 10.20.1.0/24"}),
]
Address = Annotated[
    ipaddress.IPv4Address | ipaddress.IPv6Address,
    BeforeValidator(_address),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "IPv4 or IPv6 address"}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=False, str_strip_whitespace=True)


class Site(_Model):
    """The plant or facility the workspace describes."""

    id: Id | None = None
    name: str
    location: str | None = None
    sector: str | None = Field(None, description="e.g. water, energy, chemicals, manufacturing")
    owner: str | None = None
    description: str | None = None


class Consequence(_Model):
    """A consequence a compromise of the zone could have (feeds SL-T, issue 3)."""

    category: str = Field(description="one of " + ", ".join(CONSEQUENCE_CATEGORIES) + " (or your own)")
    severity: int | None = Field(None, ge=1, le=5, description="1 (minor) .. 5 (catastrophic)")
    description: str


def _consequence(value: Any) -> Any:
    if isinstance(value, str):
        return {"category": "other", "description": value}
    return value


class Zone(_Model):
    """Assets that share security requirements (62443-3-2 ZCR 3)."""

    id: Id
    name: str | None = None
    description: str | None = None
    kind: Annotated[ZoneKind | None, BeforeValidator(_slug)] = None
    purdue_level: float | None = Field(None, ge=0, le=5, description="0..5; 3.5 is the industrial DMZ")
    sl_t: SLVectorField | None = Field(None, description="target security level (62443-3-2 ZCR 5.6)")
    owner: str | None = None
    assets: Annotated[list[Id], BeforeValidator(_as_list)] = Field(default_factory=list)
    subnets: Annotated[list[Network], BeforeValidator(_as_list)] = Field(default_factory=list)
    vlans: Annotated[list[Annotated[int, Field(ge=1, le=4094)]], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    consequences: list[Annotated[Consequence, BeforeValidator(_consequence)]] = Field(default_factory=list)
    notes: str | None = None

    @field_validator("purdue_level")
    @classmethod
    def _half_levels(cls, v: float | None) -> float | None:
        if v is not None and (v * 2) != int(v * 2):
            raise ValueError("Purdue level is a whole or half level (0, 1, 2, 3, 3.5, 4, 5)")
        return v

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def is_dmz(self) -> bool:
        return self.kind == ZoneKind.dmz or self.purdue_level == 3.5


class Operations(_Model):
    """Industrial operations a flow allows; omitted means any."""

    preset: Literal["read-only", "monitor", "no-program-changes"] | None = Field(
        None, description="a named set of operations, narrowed to what the protocol knows"
    )
    allow: Annotated[list[str] | None, BeforeValidator(lambda v: _as_list(v) if v is not None else None)] = Field(
        None, description="operation classes allowed (read, write, operate, program-download, ...); omitted = any"
    )
    deny: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=list, description="operation classes denied"
    )
    function_codes: Annotated[
        list[Annotated[int, Field(ge=0, le=255)]] | None,
        BeforeValidator(lambda v: _as_list(v) if v is not None else None),
    ] = Field(None, description="allowed protocol function codes")
    unit_ids: Annotated[
        list[Annotated[int, Field(ge=0, le=65535)]] | None,
        BeforeValidator(lambda v: _as_list(v) if v is not None else None),
    ] = Field(None, description="allowed unit ids / addresses")

    def allowed(self, operation: str) -> bool:
        """Whether this restriction lets ``operation`` through."""
        if operation in self.deny:
            return False
        if self.preset is not None and operation not in OPERATION_PRESETS[self.preset]:
            return False
        return self.allow is None or operation in self.allow

    def effective(self, known: frozenset[str]) -> frozenset[str]:
        """The allowed operations among ``known`` (a protocol's operations)."""
        return frozenset(op for op in known if self.allowed(op))


def _operations(value: Any) -> Any:
    if isinstance(value, str):
        key = _slug(value)
        if key in ("any", "all"):
            return {}
        if key in OPERATION_PRESETS:
            return {"preset": key}
        return {"allow": _as_list(value)}
    if isinstance(value, list):
        return {"allow": value}
    return value


PortSpec = Annotated[
    str,
    BeforeValidator(lambda v: str(v).strip() if isinstance(v, (int, str)) and not isinstance(v, bool) else v),
    Field(pattern=r"^\d{1,5}(-\d{1,5})?$", description="a port or a range 'low-high'"),
]


class Flow(_Model):
    """One allowed communication through a conduit: initiator -> responder."""

    id: Id | None = None
    description: str | None = None
    from_: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        validation_alias=AliasChoices("from", "initiator"),
        serialization_alias="from",
        description="initiators: asset ids, zone ids, subnets/addresses or 'any'",
    )
    to: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        validation_alias=AliasChoices("to", "responder"),
        description="responders: asset ids, zone ids, subnets/addresses or 'any'",
    )
    protocol: Annotated[str, BeforeValidator(_slug)] = Field(description="protocol name, e.g. modbus, s7, opcua, https")
    ports: Annotated[list[PortSpec], BeforeValidator(_as_list)] = Field(
        [], description="destination ports; default: the protocol's well-known ports"
    )
    operations: Annotated[Operations | None, BeforeValidator(_operations)] = Field(
        None,
        description="'read-only', 'monitor', 'no-program-changes', a list of allowed operations, "
        "or a mapping preset/allow/deny/function_codes/unit_ids",
    )
    life_safety: bool = Field(False, description="keep this flow in island mode (SR 5.2 RE 2)")
    log: bool = True


class Conduit(_Model):
    """The channels between zones and the flows they allow."""

    id: Id
    name: str | None = None
    description: str | None = None
    zones: Annotated[list[Id], BeforeValidator(_as_list)]
    enforcement: Annotated[list[Annotated[Enforcement, BeforeValidator(_slug)]], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    devices: Annotated[list[Id], BeforeValidator(_as_list)] = Field(
        [], description="asset ids of the enforcing devices"
    )
    sl_t: SLVectorField | None = None
    flows: list[Flow] = Field(default_factory=list)
    notes: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.id


class Asset(_Model):
    """A component of the plant."""

    id: Id
    name: str | None = None
    role: Annotated[Role | None, BeforeValidator(_role)] = None
    component_type: Annotated[ComponentType | None, BeforeValidator(_slug)] = Field(
        None, description="IEC 62443-4-2 component type; default from the role"
    )
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    ip: Annotated[list[Address], BeforeValidator(_as_list)] = Field(default_factory=list)
    mac: Annotated[list[Mac], BeforeValidator(_as_list)] = Field(default_factory=list)
    zone: Id | None = None
    owner: str | None = None
    criticality: Annotated[Criticality | None, BeforeValidator(_slug)] = None
    sl_c: SLVectorField | None = Field(None, description="capability security level (62443-4-2)")
    location: str | None = None
    description: str | None = None
    notes: str | None = None
    tags: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def effective_component_type(self) -> ComponentType | None:
        if self.component_type is not None:
            return self.component_type
        return ROLE_COMPONENT_TYPE.get(self.role) if self.role is not None else None


class AssetSource(_Model):
    """An asset spreadsheet read into the model, with the plant's own column names."""

    file: str = Field(description="path relative to the workspace: .csv or .xlsx")
    sheet: str | None = Field(None, description="worksheet name (xlsx); default: the first")
    columns: dict[str, str] = Field(
        default_factory=dict, description="spreadsheet header -> asset field, e.g. 'IP Address': ip"
    )


class ChangeWindow(_Model):
    """A planned maintenance window: engineering activity (program downloads, CPU stop and start,
    firmware updates, writes) inside it is expected, so detections say so instead of alarming."""

    id: Id
    start: dt.datetime = Field(description="ISO date and time, e.g. 2026-11-28T06:00 (UTC if no time zone)")
    end: dt.datetime
    zones: Annotated[list[Id], BeforeValidator(_as_list)] = Field(
        default_factory=list, description="zones it covers; with no zones and no assets: the whole plant"
    )
    assets: Annotated[list[Id], BeforeValidator(_as_list)] = Field(default_factory=list, description="assets it covers")
    ticket: str | None = Field(None, description="change request or work order")
    description: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ChangeWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Plant(_Model):
    """Root of plant.yaml."""

    version: int = Field(1, ge=1, le=1)
    site: Site
    zones: list[Zone] = Field(default_factory=list)
    conduits: list[Conduit] = Field(default_factory=list)
    assets: list[Asset] = Field(default_factory=list)
    asset_sources: list[AssetSource] = Field(default_factory=list)
    change_windows: list[ChangeWindow] = Field(default_factory=list)
