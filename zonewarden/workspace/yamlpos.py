"""YAML loading that remembers where every value came from.

PyYAML's safe loader builds plain Python objects and forgets the source
positions; validation errors need them (``plant.yaml:42:7``). We compose the
node graph, build the objects ourselves, and record for each path (a tuple of
mapping keys and list indexes) the 1-based line and column of its value, and of
its key under ``path + (KEY,)``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from zonewarden.errors import InputError, Location

KEY = "\x00key"
Path = tuple[Any, ...]
Positions = dict[Path, tuple[int, int]]
MAX_NODES = 2_000_000


class _Yaml12Loader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 scalars: no sexagesimal numbers (a MAC such as
    10:11:22:33:44:55 stays text) and only true/false as booleans (NO stays 'NO')."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


_CBase: Any = getattr(yaml, "CSafeLoader", None)


def _same_resolvers(cls: Any) -> None:
    cls.yaml_implicit_resolvers = _Yaml12Loader.yaml_implicit_resolvers


class _CheckedConstruction:
    """Mapping construction that refuses duplicate keys (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_object(key_node)  # type: ignore[attr-defined]
                if key in seen:
                    raise _Duplicate(key, seen[key], key_node)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _Duplicate(Exception):
    def __init__(self, key: Any, first: yaml.Node, again: yaml.Node) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


if _CBase is not None:

    class _Fast12Loader(_CheckedConstruction, _CBase):  # type: ignore[misc, valid-type]
        """libyaml's parser with our YAML 1.2 scalars and duplicate-key check."""

    _same_resolvers(_Fast12Loader)
    _ComposeLoader: Any = _Fast12Loader
else:  # pragma: no cover - PyYAML without libyaml

    class _Fast12Loader(_CheckedConstruction, _Yaml12Loader):  # type: ignore[no-redef]
        pass

    _ComposeLoader = _Yaml12Loader

_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s\]},]")


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.positions: Positions = {}
        self._scalar = _Yaml12Loader("")  # only used for its scalar constructors
        self._budget = MAX_NODES
        self._active: set[int] = set()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise InputError(f"document too large (over {MAX_NODES} values after expanding aliases)", self._loc(node))
        if id(node) in self._active:
            raise InputError("recursive alias: a value contains itself", self._loc(node))
        self.positions[path] = _mark(node)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._active.add(id(node))
            try:
                return self._build_collection(node, path)
            finally:
                self._active.discard(id(node))
        try:
            return _scalar(node, self._scalar)
        except yaml.constructor.ConstructorError as exc:
            raise InputError(f"cannot read value: {exc.problem}", self._loc(node)) from None

    def _build_collection(self, node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            self._scalar.flatten_mapping(node)  # resolves YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise InputError("a mapping key must be a plain value", self._loc(key_node))
                key = self._scalar.construct_object(key_node)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    key = str(key)
                if key in out:
                    first = self.positions.get(path + (key, KEY))
                    where = f" (first at line {first[0]})" if first else ""
                    raise InputError(f"duplicate key {key!r}{where}", self._loc(key_node))
                self.positions[path + (key, KEY)] = _mark(key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        raise AssertionError("unreachable")

    def _loc(self, node: yaml.Node) -> Location:
        line, col = _mark(node)
        return Location(self.filename, line, col)


def load_yaml(text: str, filename: str) -> tuple[Any, Positions]:
    """Parse one YAML document; return the data and its position map.

    Raises :class:`InputError` with the file, line and column of the problem.
    Aliases are expanded; tags other than YAML's core schema are refused.
    """
    try:
        node = yaml.compose(text, Loader=_ComposeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        problem = exc.problem or exc.context or "invalid YAML"
        ctx = exc.context_mark
        if exc.context and ctx is not None and mark is not None and ctx.line != mark.line:
            problem += f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
        raise InputError(f"YAML syntax error: {problem}", loc) from None
    except yaml.YAMLError as exc:  # e.g. a second document, reader errors
        raise InputError(f"YAML error: {exc}", Location(filename)) from None
    if node is None:
        return None, {(): (1, 1)}
    builder = _Builder(filename)
    return builder.build(node, ()), builder.positions


def positions_of(text: str, filename: str) -> Positions:
    """The positions of every value of a document that is known to parse."""
    return load_yaml(text, filename)[1]


_STR, _INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))


def _scalar(node: yaml.Node, slow: yaml.SafeLoader) -> Any:
    """A scalar's value: common tags inline (decimal ints as in YAML 1.2), others by the safe constructor."""
    tag, value = node.tag, node.value
    if tag == _STR:
        return value
    if tag == _INT and value.lstrip("+-").isdigit():
        return int(value, 10)
    if tag == _BOOL:
        return value.lower() == "true"
    if tag == _NULL:
        return None
    return slow.construct_object(node, deep=True)


class _FastBuilder:
    """Objects from a composed node graph with the fewest Python calls per node.

    The composer (libyaml) has already resolved each scalar's tag; common tags
    are converted inline, the rest go through the safe constructor. Duplicate
    keys are refused. Used only for documents without anchors or aliases.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self._slow = _Yaml12Loader("")

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node, self._slow)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item) for item in node.value]
        if isinstance(node, yaml.MappingNode):
            if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
                return self._slow.construct_object(node, deep=True)
            out: dict[Any, Any] = {}
            first: dict[Any, yaml.Node] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line, col = _mark(key_node)
                    raise InputError("a mapping key must be a plain value", Location(self.filename, line, col))
                key = self.build(key_node)
                if key in out:
                    line, col = _mark(key_node)
                    raise InputError(
                        f"duplicate key {key!r} (first at line {_mark(first[key])[0]})",
                        Location(self.filename, line, col),
                    )
                first[key] = key_node
                out[key] = self.build(value_node)
            return out
        return self._slow.construct_object(node, deep=True)


def load_yaml_fast(text: str, filename: str) -> tuple[Any, Positions | None]:
    """Parse one document quickly (libyaml), without positions; those come later from
    :func:`positions_of` when a diagnostic needs one. Documents with anchors and aliases
    take the careful path (alias expansion is bounded there), and so do errors, so the
    error names the exact place."""
    if _ALIAS.search(text):
        return load_yaml(text, filename)
    try:
        node = yaml.compose(text, Loader=_ComposeLoader)
    except yaml.YAMLError:
        return load_yaml(text, filename)  # re-parse for a precise, consistent message
    if node is None:
        return None, None
    try:
        return _FastBuilder(filename).build(node), None
    except yaml.constructor.ConstructorError as exc:
        line, col = 0, 0
        mark = exc.problem_mark
        if mark is not None:
            line, col = mark.line + 1, mark.column + 1
        raise InputError(f"cannot read value: {exc.problem}", Location(filename, line, col)) from None
