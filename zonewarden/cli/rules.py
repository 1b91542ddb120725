"""`zonewarden rules`: firewall rulesets generated from the conduits, and existing configurations checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zonewarden.cli.output import console, err_console, fail

app = typer.Typer(
    help="Segmentation engineering: firewall rules from conduits, and firewall configurations checked against them.",
    no_args_is_help=True,
)


@app.command("generate")
def generate_cmd(
    workspace: Annotated[Path, typer.Argument(help="workspace folder (or its plant.yaml)")],
    platform: Annotated[
        str,
        typer.Option(
            "--platform",
            "-p",
            help="nftables, iptables, cisco-ios, cisco-asa, juniper-srx, paloalto or fortigate",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="folder to write the files to; default: print the rulesets"),
    ] = None,
    island: Annotated[
        bool,
        typer.Option("--island", help="island mode (SR 5.2 RE 2): only flows marked life_safety stay allowed"),
    ] = False,
    ips: Annotated[bool, typer.Option("--ips", help="Suricata rules drop (inline IPS) instead of alert")] = False,
    device: Annotated[
        list[str] | None, typer.Option("--device", "-d", help="only this enforcing device (repeatable)")
    ] = None,
    sid_base: Annotated[int, typer.Option("--sid-base", help="first Suricata sid")] = 1_620_000,
) -> None:
    """Generate the ruleset of every enforcing device from the conduits: deny by default, allow by
    exception (SR 5.2 RE 1), a logged final deny (SR 6.2), one rule per conduit flow, stateful where the
    platform is. With -o, also Suricata rules for restricted industrial operations (suricata.rules) and a
    DPI profile per conduit (dpi/<conduit>.md). Flows of conduits that name no device go to the
    'boundary' ruleset.

    Exit 0 written, 1 invalid workspace or nothing to render, 2 usage error."""
    from zonewarden.cli.workspace import open_workspace
    from zonewarden.rules.generate import PLATFORMS, GenerateError, generate
    from zonewarden.rules.generate import platform as find_platform
    from zonewarden.rules.policy import build_policy

    generator = find_platform(platform)
    if generator is None:
        fail(f"unknown platform '{platform}' (use {', '.join(PLATFORMS)})", 2)
        return
    if not 1 <= sid_base <= 4_000_000_000:
        fail("--sid-base must be a positive number", 2)
    ws = open_workspace(workspace, "rules are not generated from an invalid model", strict=True)
    policy = build_policy(ws)
    for problem in policy.problems:
        err_console.print(f"[yellow]warning:[/] not rendered: {problem}")
    try:
        result = generate(
            policy, ws.plant, generator, island=island, ips=ips, devices=device or None, sid_base=sid_base
        )
    except GenerateError as exc:
        fail(str(exc), 1)
        return
    for line in result.skipped:
        err_console.print(f"skipped {line}", markup=False)
    if not result.rulesets:
        fail("no enforcing device has a ruleset to render (are conduits' devices data diodes?)", 1)
    if output is None:
        for i, ruleset in enumerate(result.rulesets):
            if len(result.rulesets) > 1:
                print(("\n" if i else "") + f"==> {ruleset.filename} <==")
            print(ruleset.text, end="")
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in result.files.items():
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for ruleset in result.rulesets:
        console.print(f"{output / ruleset.filename}: {ruleset.terms} flow rule(s) + final deny", markup=False)
    extra = [n for n in result.files if n not in {r.filename for r in result.rulesets}]
    if extra:
        console.print(f"{output}: {len(extra)} industrial file(s): " + ", ".join(sorted(extra)), markup=False)


from zonewarden.cli.rules_check import check_cmd  # noqa: E402

app.command("check")(check_cmd)
