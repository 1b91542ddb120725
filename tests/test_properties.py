"""Property tests: random and mutated input never produces a traceback.

Whatever bytes a user feeds in, loading either succeeds (with located
diagnostics) or raises InputError with a location; nothing else escapes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.errors import InputError
from zonewarden.model.sl import SLVector
from zonewarden.workspace.load import load_workspace
from zonewarden.workspace.tables import read_csv
from zonewarden.workspace.yamlpos import load_yaml

STARTER = (Path(__file__).resolve().parent.parent / "zonewarden" / "data" / "starter" / "plant.yaml").read_text()
BROKEN = (Path(__file__).resolve().parent / "data" / "broken_plant.yaml").read_text()
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("ZW_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _load_text(text: str, **files: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "plant.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        for name, data in files.items():
            (root / name.replace("__", ".")).write_bytes(data)
        try:
            ws = load_workspace(root)
        except InputError as exc:
            assert exc.location is not None and exc.message
            return
        for d in ws.check():
            assert d.file and d.message


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 70000),
    st.text(max_size=12),
    st.sampled_from(["10.0.0.0/24", "any", "modbus", "read-only", "FR5", "plc", "3.5", "-1"]),
)
yaml_keys = st.sampled_from(
    [
        "id",
        "zones",
        "assets",
        "conduits",
        "flows",
        "from",
        "to",
        "protocol",
        "sl_t",
        "ip",
        "mac",
        "subnets",
        "zone",
        "operations",
        "ports",
        "site",
        "name",
        "purdue_level",
        "enforcement",
        "devices",
        "kind",
        "role",
        "bogus",
        "version",
        "allow",
        "deny",
    ]
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(yaml_keys, children, max_size=5)),
    max_leaves=25,
)


@SETTINGS
@given(st.dictionaries(yaml_keys, yaml_values, max_size=6))
def test_random_documents(doc):
    import yaml

    _load_text(yaml.safe_dump(doc, allow_unicode=True))


@SETTINGS
@given(st.data())
def test_mutated_plants(data):
    base = data.draw(st.sampled_from([STARTER, BROKEN]))
    lines = base.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "truncate", "indent", "garble"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "truncate":
            lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]))))]
        elif action == "indent":
            lines[i] = " " * data.draw(st.integers(1, 3)) + lines[i]
        else:
            lines[i] = lines[i] + data.draw(st.text(max_size=6))
        if not lines:
            lines = [""]
    _load_text("\n".join(lines))


@SETTINGS
@given(st.text(max_size=300))
def test_random_yaml_text(text):
    try:
        load_yaml(text, "x.yaml")
    except InputError as exc:
        assert exc.location is not None


@SETTINGS
@given(st.binary(max_size=400))
def test_random_csv_bytes(blob):
    _load_text(STARTER, assets__csv=blob)


csv_cell = st.one_of(st.text(max_size=10), st.sampled_from(["plc", "192.168.1.5", "00:11:22:33:44:55", "high", "2"]))


@SETTINGS
@given(st.lists(st.lists(csv_cell, min_size=1, max_size=6), min_size=1, max_size=8), st.sampled_from([",", ";", "\t"]))
def test_random_csv_tables(rows, sep):
    header = sep.join(["id", "role", "ip", "mac", "criticality", "zone"])
    body = "\n".join(sep.join(c.replace(sep, " ").replace("\n", " ").replace('"', "") for c in row) for row in rows)
    blob = (header + "\n" + body).encode("utf-8", errors="surrogatepass")
    _load_text(STARTER, assets__csv=blob)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.csv"
        path.write_bytes(blob)
        try:
            read_csv(path, "a.csv")
        except InputError as exc:
            assert exc.location is not None


@given(st.lists(st.integers(0, 4), min_size=7, max_size=7))
def test_sl_vector_forms_agree(levels):
    as_list = SLVector.parse(levels)
    as_map = SLVector.parse({f"FR{i + 1}": v for i, v in enumerate(levels)})
    as_text = SLVector.parse("{" + ",".join(map(str, levels)) + "}")
    assert as_list == as_map == as_text
    assert SLVector.parse(as_list.as_dict()) == as_list


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), _JSON, max_size=5))
def test_streamed_json_is_the_indented_dump(document) -> None:
    """print_json writes lists item by item: byte for byte what json.dumps(indent=2) writes whole."""
    import io
    import json
    from contextlib import redirect_stdout

    from zonewarden.cli.output import print_json

    buf = io.StringIO()
    with redirect_stdout(buf):
        print_json(document)
    whole = json.dumps(document, indent=2)
    assert buf.getvalue() == (whole + "\n" if document else "{\n}\n")
