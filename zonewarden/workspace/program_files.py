"""risk.yaml and assessments/*.yaml: the risk register and the answers, loaded with locations.

Each scenario, override and answer is validated on its own, so one bad entry
is reported and skipped without losing the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from zonewarden.assess.model import Answer, Assessment
from zonewarden.catalog.ids import canonical_id
from zonewarden.errors import InputError, Location
from zonewarden.model.diagnostics import did_you_mean
from zonewarden.risk.model import Override, RiskModel, Scenario, default_risk_data, merged
from zonewarden.workspace.pydantic_errors import translate_errors
from zonewarden.workspace.yamlpos import KEY, load_yaml_fast

if TYPE_CHECKING:
    from zonewarden.workspace.load import _Loader

RISK_FILE = "risk.yaml"
ASSESSMENT_DIR = "assessments"
RISK_KEYS = (
    "version",
    "categories",
    "likelihood",
    "risk_levels",
    "matrix",
    "tolerable",
    "sl_rules",
    "scenarios",
    "overrides",
)


def file_prefix(rel: str) -> tuple[str, str]:
    return ("@file", rel)


def parse_file(loader: _Loader, rel: str) -> Any:
    """Parse a YAML file of the workspace; register its locations; None after reporting a syntax error."""
    path = loader.root / rel
    try:
        text = path.read_bytes().decode("utf-8-sig")
        data, positions = load_yaml_fast(text, rel)
    except UnicodeDecodeError as exc:
        loader.error("syntax", f"not UTF-8 text (byte {exc.start})", Location(rel))
        return None
    except InputError as exc:
        loader.error("syntax", exc.message, exc.location or Location(rel))
        return None
    prefix = file_prefix(rel)
    if positions is None:
        loader.locations.add_pending(prefix, rel, text)
    else:
        loader.locations.add_positions(prefix, rel, positions)
    return data


def load_risk(loader: _Loader) -> tuple[RiskModel, bool]:
    """The workspace's risk model over the defaults, and whether risk.yaml exists."""
    defaults = RiskModel.model_validate(merged({}))
    if not (loader.root / RISK_FILE).is_file():
        return defaults, False
    data = parse_file(loader, RISK_FILE)
    if data is None:
        return defaults, True
    prefix = file_prefix(RISK_FILE)
    if not isinstance(data, dict):
        loader.error("schema", "risk.yaml must be a mapping (scenarios, overrides, scales)", loader.locate(prefix))
        return defaults, True
    for key in data:
        if key not in RISK_KEYS:
            loader.error(
                "schema", f"unknown key '{key}'" + did_you_mean(str(key), RISK_KEYS), loader.locate((*prefix, key, KEY))
            )
    scales = {k: v for k, v in data.items() if k in RISK_KEYS and k not in ("scenarios", "overrides")}
    try:
        model = RiskModel.model_validate(merged(scales))
    except ValidationError as exc:
        loader.diagnostics.extend(translate_errors(exc, RiskModel, prefix, "risk scales", loader.locate))
        model = defaults
        for key in scales:  # keep each section that is valid on its own
            try:
                model = RiskModel.model_validate({**model.model_dump(), key: scales[key]})
            except ValidationError:
                continue
    scenarios = _items(loader, data.get("scenarios"), Scenario, (*prefix, "scenarios"), "scenario")
    overrides = _items(loader, data.get("overrides"), Override, (*prefix, "overrides"), "override")
    return model.model_copy(update={"scenarios": scenarios, "overrides": overrides}), True


def _items(loader: _Loader, items: Any, model: type[BaseModel], path: tuple, kind: str) -> list:
    if items is None:
        return []
    if not isinstance(items, list):
        loader.error("schema", f"expected a list of {kind}s", loader.locate(path))
        return []
    out: list[BaseModel | None] = []
    for i, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else None
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            obj = f"{kind} {ident}" if ident else f"{kind} #{i + 1}"
            loader.diagnostics.extend(translate_errors(exc, model, (*path, i), obj, loader.locate))
            out.append(None)
    kept = [i for i, o in enumerate(out) if o is not None]
    loader.locations.reindex(path, kept, len(out))
    return [o for o in out if o is not None]


def assessment_files(root: Path) -> list[str]:
    folder = root / ASSESSMENT_DIR
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_assessments(loader: _Loader, requirement_ids: set[str]) -> list[tuple[str, Assessment]]:
    """Every assessments/*.yaml file: (relative path, assessment) with answer keys canonical."""
    out: list[tuple[str, Assessment]] = []
    for rel in assessment_files(loader.root):
        data = parse_file(loader, rel)
        if data is None:
            continue
        prefix = file_prefix(rel)
        if not isinstance(data, dict):
            loader.error(
                "schema",
                "an assessment file is a mapping with 'zone' (or 'conduit') and 'answers'",
                loader.locate(prefix),
            )
            continue
        answers_raw = data.get("answers") or {}
        if not isinstance(answers_raw, dict):
            loader.error(
                "schema", "answers: expected a mapping of requirement id to answer", loader.locate((*prefix, "answers"))
            )
            answers_raw = {}
        header = {k: v for k, v in data.items() if k != "answers"}
        try:
            assessment = Assessment.model_validate(header)
        except ValidationError as exc:
            loader.diagnostics.extend(translate_errors(exc, Assessment, prefix, rel, loader.locate))
            continue
        kind, ident = assessment.target
        raw: dict[str, Any] = {}
        for raw_key, raw_answer in answers_raw.items():
            path = (*prefix, "answers", raw_key)
            rid = canonical_id(str(raw_key))
            if rid is None or rid not in requirement_ids:
                hint = did_you_mean(rid or str(raw_key), requirement_ids)
                what = (
                    "a 62443-4-2 component requirement; assessments answer 62443-3-3 SRs and REs"
                    if (rid and rid.split()[0] in ("CR", "SAR", "EDR", "HDR", "NDR"))
                    else "not a 62443-3-3 requirement"
                )
                loader.error(
                    "unknown-requirement",
                    f"'{raw_key}' is {what}{hint}",
                    loader.locate((*path, KEY)),
                    f"{kind} {ident}",
                )
                continue
            if rid in raw:
                loader.error(
                    "duplicate-answer",
                    f"{rid} is answered twice in this file",
                    loader.locate((*path, KEY)),
                    f"{kind} {ident}",
                )
                continue
            if rid != raw_key:  # locations follow the canonical id
                loader.locations.alias(path, (*prefix, "answers", rid))
            raw[rid] = {"status": raw_answer} if isinstance(raw_answer, str) else raw_answer
        answers = _validate_answers(loader, raw, (*prefix, "answers"), f"{kind} {ident}")
        out.append((rel, assessment.model_copy(update={"answers": answers})))
    return out


_ANSWERS = TypeAdapter(dict[str, Answer])


def _validate_answers(loader: _Loader, raw: dict[str, Any], path: tuple, obj: str) -> dict[str, Answer]:
    """All answers of a file in one validation call (fast); on errors, one by one to keep the good ones."""
    try:
        return _ANSWERS.validate_python(raw)
    except ValidationError:
        pass
    answers: dict[str, Answer] = {}
    for rid, data in raw.items():
        try:
            answers[rid] = Answer.model_validate(data)
        except ValidationError as exc:
            loader.diagnostics.extend(translate_errors(exc, Answer, (*path, rid), f"{obj} {rid}", loader.locate))
    return answers


__all__ = ["ASSESSMENT_DIR", "RISK_FILE", "default_risk_data", "load_assessments", "load_risk"]
