"""Golden files: generated text compared byte for byte with tests/golden, or rewritten on request.

``ZONEWARDEN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/<the test file>`` rewrites the golden files a
test compares (review the diff, then commit them); CI refuses to rewrite them.
"""

from __future__ import annotations

import difflib
import os
from itertools import islice
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_VAR = "ZONEWARDEN_UPDATE_GOLDEN"


def flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def check_golden(name: str, text: str, directory: Path = GOLDEN) -> None:
    """Compare ``text`` byte for byte with ``directory/name``, or rewrite it when ZONEWARDEN_UPDATE_GOLDEN=1."""
    path = directory / name
    if flag(UPDATE_VAR):
        if flag("CI"):
            pytest.fail(
                f"{UPDATE_VAR} is set but so is CI: golden files are never rewritten in CI. "
                f"Run the test with {UPDATE_VAR}=1 locally, review and commit."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; create it with {UPDATE_VAR}=1 (then review and commit it)")
    expected = path.read_bytes()
    if expected != text.encode("utf-8"):
        label = f"golden/{path.relative_to(GOLDEN)}" if path.is_relative_to(GOLDEN) else str(path)
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(), text.splitlines(), label, "actual", lineterm=""
        )
        pytest.fail(
            f"{name} differs from its golden file. If the change is intended, rerun with {UPDATE_VAR}=1 "
            "and commit the new golden.\n" + "\n".join(islice(diff, 80))
        )
