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
            return self._scalar.construct_object(node, deep=True)
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
        node = yaml.compose(text, Loader=_Yaml12Loader)
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
