"""Docs are checked: every command is in the README, every file key is documented."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from zonewarden.assess.model import Answer, Assessment, Evidence
from zonewarden.cli import app
from zonewarden.model.plant import (
    Asset,
    AssetSource,
    ChangeWindow,
    Conduit,
    Consequence,
    Flow,
    Operations,
    Plant,
    Site,
    Zone,
)
from zonewarden.risk.model import RiskModel, Scenario

README = (REPO / "README.md").read_text()


def _keys(model) -> set[str]:
    return {info.serialization_alias or info.alias or name for name, info in model.model_fields.items()}


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_group(app)
    out = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            out += [f"{name} {sub}" for sub in command.commands]
        else:
            out.append(name)
    return out


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme(command):
    assert re.search(rf"zonewarden {re.escape(command)}\b", README), command


@pytest.mark.parametrize(
    ("doc", "models"),
    [
        (
            "docs/workspace.md",
            (Plant, Site, Zone, Consequence, Conduit, Flow, Operations, Asset, AssetSource, ChangeWindow),
        ),
        ("docs/risk.md", (RiskModel, Scenario)),
        ("docs/assessment.md", (Assessment, Answer, Evidence)),
    ],
)
def test_every_key_is_documented(doc, models):
    text = (REPO / doc).read_text()
    for model in models:
        for key in _keys(model):
            assert f"`{key}`" in text or re.search(rf"\b{re.escape(key)}:", text), f"{doc}: {model.__name__}.{key}"
