from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = REPO.parent / "shared" / "data"


def expected_marks(text: str) -> set[tuple[int, str]]:
    """Lines marked ``#! code [code...]`` in a fixture: the (line, code) pairs validation must report."""
    marks = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.search(r"#!\s*([\w\s-]+)$", line)
        if match:
            for code in match.group(1).split():
                marks.add((number, code))
    return marks


@pytest.fixture
def write_workspace(tmp_path: Path):
    def write(plant: str, **files: str | bytes) -> Path:
        root = tmp_path / "ws"
        root.mkdir(exist_ok=True)
        (root / "plant.yaml").write_text(plant, encoding="utf-8")
        for name, content in files.items():
            target = root / name.replace("__", ".")
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return root

    return write
