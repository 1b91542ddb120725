"""Load a workspace folder into a :class:`Workspace`: the plant plus where
every value came from, plus every problem found while reading.

A partially bad workspace still loads: each zone, conduit and asset is checked
on its own, and the bad ones are reported and left out, so the rest is still
validated and usable.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from zonewarden.assess.model import Assessment
from zonewarden.errors import InputError, Location
from zonewarden.model.diagnostics import Diagnostic, did_you_mean
from zonewarden.model.plant import Asset, AssetSource, ChangeWindow, Conduit, Plant, Site, Zone
from zonewarden.model.validate import validate_plant
from zonewarden.perf import paused_gc
from zonewarden.risk.model import RiskModel
from zonewarden.workspace.locations import Locations
from zonewarden.workspace.pydantic_errors import translate_errors
from zonewarden.workspace.tables import Table, read_csv, read_xlsx
from zonewarden.workspace.yamlpos import KEY, load_yaml_fast

PLANT_FILE = "plant.yaml"
DEFAULT_ASSET_FILES = ("assets.csv", "assets.xlsx")
Path_ = tuple[Any, ...]


@dataclass
class Workspace:
    """A loaded workspace: the plant, value locations and load-time problems."""

    root: Path
    plant: Plant
    locations: Locations = field(default_factory=lambda: Locations(PLANT_FILE))
    load_diagnostics: list[Diagnostic] = field(default_factory=list)
    risk: RiskModel | None = None
    has_risk_file: bool = False
    assessments: list[tuple[str, Assessment]] = field(default_factory=list)
    _checks: dict[dt.date, list[Diagnostic]] = field(default_factory=dict, repr=False, compare=False)

    def locate(self, diag: Diagnostic) -> Diagnostic:
        """Give a diagnostic the file:line:column of the closest known value on its path."""
        if diag.file:
            return diag
        loc = self.locations.locate(diag.path)
        return diag.located(loc.file, loc.line, loc.column)

    def check(self, as_of: dt.date | None = None) -> list[Diagnostic]:
        """Load-time problems plus whole-workspace validation, located and in file order.
        Evidence expiry is judged on ``as_of`` (default today)."""
        day = as_of or dt.date.today()
        if day not in self._checks:  # commands check once for errors and again to show them
            with paused_gc():
                self._checks[day] = self._check(day)
        return list(self._checks[day])

    def _check(self, as_of: dt.date | None) -> list[Diagnostic]:
        from zonewarden.assess.validate import validate_program

        found = self.load_diagnostics + [self.locate(d) for d in validate_plant(self.plant)]
        if self.risk is not None:
            found += [self.locate(d) for d in validate_program(self, as_of)]
        first = self.locations.default_file
        return sorted(found, key=lambda d: (d.file != first, d.file or "", d.line, d.column))


# the list sections of plant.yaml: (key, model of one item, what one item is called in messages)
SECTIONS: tuple[tuple[str, type[Any], str], ...] = (
    ("zones", Zone, "zone"),
    ("conduits", Conduit, "conduit"),
    ("assets", Asset, "asset"),
    ("asset_sources", AssetSource, "asset source"),
    ("change_windows", ChangeWindow, "change window"),
)


class _Loader:
    def __init__(self, root: Path, plant_file: str = PLANT_FILE) -> None:
        self.root = root
        self.plant_file = plant_file
        self.locations = Locations(plant_file)
        self.diagnostics: list[Diagnostic] = []

    def locate(self, path: Path_) -> Location:
        return self.locations.locate(path)

    def error(self, code: str, message: str, location: Location, obj: str = "") -> None:
        self.diagnostics.append(
            Diagnostic("error", code, message, obj, (), location.file, location.line, location.column)
        )

    def warning(self, code: str, message: str, location: Location, obj: str = "") -> None:
        self.diagnostics.append(
            Diagnostic("warning", code, message, obj, (), location.file, location.line, location.column)
        )

    def _one(self, model: type[BaseModel], data: Any, path: Path_, kind: str) -> Any:
        """Validate one object; report its errors, then salvage what is good.

        The values with errors (a bad key, a bad flow) are dropped and the rest
        is validated again, so one typo does not make a whole zone disappear
        and every reference to it fail.
        """
        ident = data.get("id") if isinstance(data, dict) else None
        obj = f"{kind} {ident}" if ident else f"{kind} #{path[-1] + 1 if isinstance(path[-1], int) else ''}"
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.diagnostics.extend(translate_errors(exc, model, path, obj, self.locate))
            errors = exc.errors()
        if not isinstance(data, dict):
            return None
        data = copy.deepcopy(data)
        for _ in range(4):
            removals: dict[Path_, set[int]] = {}
            for err in errors:
                loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
                cut = max((i for i, p in enumerate(loc) if isinstance(p, int)), default=None)
                if cut is not None:
                    removals.setdefault(loc[:cut], set()).add(int(loc[cut]))  # drop the bad list item
                elif loc and loc[0] in data and loc[0] != "id":
                    del data[loc[0]]
                else:
                    return None  # a required value (id, name, zones) is missing or bad
            for container, indexes in removals.items():
                target: Any = data
                for part in container:
                    target = target[part] if isinstance(target, (dict, list)) else None
                if not isinstance(target, list):  # a scalar the model split into a list
                    data.pop(container[0], None) if container and container[0] != "id" else None
                    continue
                kept = [i for i in range(len(target)) if i not in indexes]
                total = len(target)
                target[:] = [target[i] for i in kept]
                self.locations.reindex(path + container, kept, total)
            try:
                return model.model_validate(data)
            except ValidationError as exc:
                errors = exc.errors()
        return None

    def load(self) -> Workspace:
        name = self.plant_file
        try:
            text = (self.root / name).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", Location(name)) from None
        data, positions = load_yaml_fast(text, name)
        if positions is None:
            self.locations.add_pending((), name, text)
        else:
            self.locations.add_positions((), name, positions)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(
                "the plant file must be a mapping with site, zones, conduits and assets", Location(name, 1, 1)
            )
        top = self._top(data)
        plant = Plant.model_construct(**top)
        sources: list[AssetSource] = top.get("asset_sources", [])
        self._tables(plant, sources)
        from zonewarden.catalog import load_catalog
        from zonewarden.workspace.program_files import load_assessments, load_risk

        risk, has_risk = load_risk(self)
        system_ids = {r.id for r in load_catalog().requirements.values() if r.standard == "62443-3-3"}
        assessments = load_assessments(self, system_ids)
        return Workspace(self.root, plant, self.locations, self.diagnostics, risk, has_risk, assessments)

    def _top(self, data: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"version": 1, **{key: [] for key, _, _ in SECTIONS}}
        allowed = {"version", "site", *(key for key, _, _ in SECTIONS)}
        for key in data:
            if key not in allowed:
                self.error("schema", f"unknown key '{key}'" + did_you_mean(str(key), allowed), self.locate((key, KEY)))
        version = data.get("version", 1)
        if version != 1:
            self.error(
                "schema",
                f"version: this ZoneWarden reads workspace format 1, not {version!r}",
                self.locate(("version",)),
            )
        if "site" not in data:
            self.error("schema", "missing required key 'site' (site: {name: ...})", self.locate(()))
            out["site"] = Site(name=self.root.name)
        else:
            out["site"] = self._one(Site, data["site"], ("site",), "site") or Site(name=self.root.name)
        for key, model, kind in SECTIONS:
            items = data.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                self.error(
                    "schema",
                    f"{key}: expected a list of {kind}s (items starting with '- id: ...')",
                    self.locate((key,)),
                )
                continue
            survivors = []
            for i, item in enumerate(items):
                obj = self._one(model, item, (key, i), kind)
                if obj is not None:
                    survivors.append((i, obj))
            # Re-index locations so model indexes match the surviving objects.
            out[key] = [obj for _, obj in survivors]
            self.locations.reindex((key,), [i for i, _ in survivors], len(items))
        return out

    def _tables(self, plant: Plant, sources: list[AssetSource]) -> None:
        wanted: list[tuple[AssetSource, Path_]] = [(s, ("asset_sources", i)) for i, s in enumerate(sources)]
        named = {s.file for s in sources}
        for default in DEFAULT_ASSET_FILES:
            if default not in named and (self.root / default).is_file():
                wanted.append((AssetSource(file=default), ()))
        for source, path in wanted:
            file_path = self.root / source.file
            if not file_path.is_file():
                self.error("missing-file", f"asset file '{source.file}' does not exist", self.locate(path + ("file",)))
                continue
            try:
                if file_path.suffix.lower() in (".xlsx", ".xlsm"):
                    table = read_xlsx(file_path, source.file, source.sheet, source.columns)
                elif file_path.suffix.lower() in (".csv", ".txt", ".tsv"):
                    table = read_csv(file_path, source.file, source.columns)
                else:
                    self.error(
                        "schema", f"asset file '{source.file}' must be .csv or .xlsx", self.locate(path + ("file",))
                    )
                    continue
            except InputError as exc:
                self.error("asset-table", exc.message, exc.location or Location(source.file))
                continue
            self._add_rows(plant, table)

    def _add_rows(self, plant: Plant, table: Table) -> None:
        for header, col in table.ignored_columns:
            self.warning(
                "unused-column",
                f"column '{header}' is not an asset field; map it with asset_sources columns or remove it",
                Location(table.file, table.header_line, col),
            )
        for row in table.rows:
            index = len(plant.assets)
            base: Path_ = ("assets", index)
            self.locations.add_row(base, table.file, row.line, row.columns)
            try:
                asset = Asset.model_validate(row.values)
            except ValidationError as exc:
                for diag in translate_errors(exc, Asset, base, f"asset {row.values.get('id', '?')}", self.locate):
                    self.diagnostics.append(
                        Diagnostic(
                            diag.severity,
                            diag.code,
                            f"row {row.line}: {diag.message}",
                            diag.object,
                            (),
                            diag.file,
                            diag.line,
                            diag.column,
                        )
                    )
                self.locations.drop_row(base)
                continue
            plant.assets.append(asset)


def load_workspace(path: str | Path) -> Workspace:
    """Load the workspace at ``path`` (a folder, or its plant.yaml).

    Raises :class:`InputError` when the plant file cannot be parsed at all;
    per-object problems are returned in ``Workspace.load_diagnostics``.
    """
    root = Path(path)
    if root.is_file():
        with paused_gc():
            return _Loader(root.parent, root.name).load()
    if not root.is_dir():
        raise InputError(f"workspace folder '{path}' does not exist")
    if not (root / PLANT_FILE).is_file():
        raise InputError(f"no {PLANT_FILE} in '{path}' (create one with: zonewarden init {path})")
    with paused_gc():
        return _Loader(root).load()
