"""The shared firewall configurations (../shared/data/firewall) and the line damage the parser tests apply."""

from __future__ import annotations

import csv

import pytest
from conftest import SHARED

FIREWALL = SHARED / "firewall"
MANIFEST = FIREWALL / "MANIFEST.tsv"
needs_shared = pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/data/firewall is not present")
MUTATIONS = ["insert", "replace", "truncate", "duplicate", "drop"]


def manifest_rows(formats: set[str]) -> list[dict[str, str]]:
    """MANIFEST.tsv rows whose ``format`` is one of ``formats`` (none when the data is absent)."""
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh, delimiter="\t") if row["format"] in formats]


def mutate(lines: list[str], line: int, cut: int, junk: str, mode: str) -> list[str]:
    """``lines`` with line ``line`` (modulo their count) damaged by one of :data:`MUTATIONS`."""
    out = list(lines)
    i = line % len(out)
    target = out[i]
    if mode == "insert":
        out[i] = target[:cut] + junk + target[cut:]
    elif mode == "replace":
        words = target.split()
        if words:
            words[cut % len(words)] = junk
        out[i] = " ".join(words)
    elif mode == "truncate":
        out[i] = target[:cut]
    elif mode == "duplicate":
        out.insert(i, target)
    else:
        del out[i]
    return out


def half_cut(path: str, line: int, junk: str) -> str:
    """The shared config ``path`` with line ``line`` (modulo the count) cut in half and ``junk`` appended."""
    lines = (FIREWALL / path).read_text(encoding="utf-8", errors="replace").splitlines()
    i = line % len(lines)
    lines[i] = lines[i][: len(lines[i]) // 2] + junk
    return "\n".join(lines)
