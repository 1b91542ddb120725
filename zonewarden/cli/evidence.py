"""`zonewarden evidence pack | keygen | verify`: evidence packages an auditor can check on their own machine."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from zonewarden.cli.output import console, err_console, fail
from zonewarden.errors import InputError
from zonewarden.report.evidence import (
    PASSPHRASE_ENV,
    EvidenceError,
    EvidenceUsageError,
    Verification,
    load_private_key,
    load_public_key,
    pack,
    verify,
    write_keypair,
)

app = typer.Typer(
    help="Evidence packages: the model, the assessments and the cited evidence in one hashed, signed zip.",
    no_args_is_help=True,
)


def _fail(exc: EvidenceError) -> None:
    fail(str(exc), 2 if isinstance(exc, EvidenceUsageError) else 1)


def _show(text: object, limit: int = 200) -> str:
    """Names from a package are untrusted: no control characters (terminal escapes), bounded length."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _created() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (reproducible builds) fixes the creation time; default now."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (ValueError, OverflowError, OSError):
        fail(f"SOURCE_DATE_EPOCH: '{value}' is not a Unix time", 2)
        raise


@app.command("pack")
def pack_cmd(
    workspace: Annotated[Path, typer.Argument(help="workspace folder")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the package to write (.zip)")],
    sign_key: Annotated[
        Path | None,
        typer.Option(
            "--sign-key", help=f"Ed25519 private key (NAME.key from keygen); passphrase, if any, from {PASSPHRASE_ENV}"
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="assessment date (YYYY-MM-DD) for the reports; default today")
    ] = None,
    with_reports: Annotated[
        bool, typer.Option("--with-reports/--no-reports", help="include reports/report.json and report.html")
    ] = True,
) -> None:
    """Pack the model, every assessment and every cited evidence file, with a manifest of SHA-256 hashes.

    Evidence files that no answer cites are left out; cited files that do not exist are listed in the
    manifest under 'missing'. Exit 0 written, 1 a path escapes the workspace, 2 usage error."""
    from zonewarden.cli.assess import run
    from zonewarden.report.data import build_report

    if output.is_dir():
        fail(f"'{output}' is a folder; give the package file name, e.g. -o {output / 'evidence.zip'}", 2)
    if not output.parent.is_dir():
        fail(f"folder '{output.parent}' does not exist", 2)
    created = _created()
    try:
        passphrase = os.environ.get(PASSPHRASE_ENV)
        key = load_private_key(sign_key, passphrase.encode() if passphrase else None) if sign_key else None
        ws, result, catalog = run(workspace, as_of)
        reports: dict[str, bytes | Path] = {}
        if with_reports:
            report = build_report(ws, result, catalog)
            reports["report.json"] = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            from zonewarden.report.html import render_html

            reports["report.html"] = render_html(report).encode("utf-8")
        packed = pack(
            ws,
            output,
            as_of=result.as_of,
            catalog_version=catalog.version,
            reports=reports,
            sign_key=key,
            created=created,
        )
    except EvidenceError as exc:
        _fail(exc)
        return
    except InputError as exc:
        fail(str(exc), 1 if exc.location else 2)
        return
    for item in packed.missing:
        cited = ", ".join(f"{c['file']} {c['requirement']}" for c in item["cited_by"]) or "plant.yaml"
        err_console.print(f"warning: {item['path']} is cited ({cited}) but not in the workspace", markup=False)
    files = packed.manifest["files"]
    evidence = sum(1 for f in files if f["role"] == "evidence")
    signed = f", signed by key {packed.signed_by}" if packed.signed_by else ", not signed"
    console.print(
        f"Wrote {output}: {len(files)} files ({evidence} evidence, {len(packed.missing)} cited but missing){signed}",
        markup=False,
    )


@app.command()
def keygen(
    output: Annotated[Path, typer.Option("-o", "--output", help="NAME: writes NAME.key and NAME.pub")],
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing key pair")] = False,
) -> None:
    """Create an Ed25519 signing key pair: NAME.key (private, mode 0600) and NAME.pub (give it to the auditor)."""
    try:
        private, public, print_ = write_keypair(output, force)
    except EvidenceError as exc:
        _fail(exc)
        return
    console.print(f"Wrote {private} (private: keep it secret) and {public} (public)", markup=False)
    console.print(f"Fingerprint: {print_}", markup=False)


def _print_text(v: Verification) -> None:
    m = v.manifest or {}
    site = m.get("site")
    name = site.get("name") if isinstance(site, dict) else site
    if m:
        console.print(
            f"{_show(v.package)}: {_show(m.get('format'))}, site {_show(name)}, as of {_show(m.get('as_of'))}, "
            f"created {_show(m.get('created'))} by zonewarden {_show(m.get('tool_version'))}",
            markup=False,
        )
    lines = [f"error: {_show(p)}" for p in v.problems]
    lines += [f"modified: {_show(x['path'])}: {_show(x['reason'])}" for x in v.modified]
    lines += [f"missing: {_show(x)} (in the manifest, not in the package)" for x in v.missing]
    lines += [f"extra: {_show(x)} (in the package, not in the manifest)" for x in v.extra]
    lines += [f"warning: {_show(w)}" for w in v.warnings]
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)
    by = f" by key {v.key}" if v.key else ""
    embedded = f"; the package names key {v.embedded_key} (information only, not trusted)" if v.embedded_key else ""
    status = {
        "valid": f"valid{by}",
        "invalid": f"INVALID{by}: the manifest was changed or signed with another key",
        "absent": "absent (required: --public-key was given)" if v.key_required else "absent (not signed)",
        "not-checked": f"not checked ({v.not_checked_because})",
    }[v.signature]
    console.print(f"signature: {status}{embedded}", markup=False, soft_wrap=True)
    verdict = "OK" if v.ok else "FAILED"
    console.print(
        f"{verdict}: {v.checked} files checked, {len(v.modified)} modified, {len(v.missing)} missing, "
        f"{len(v.extra)} extra, {len(v.problems)} other problem(s)",
        markup=False,
    )


@app.command("verify")
def verify_cmd(
    package: Annotated[Path, typer.Argument(help="the package (.zip)")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="the signer's public key (NAME.pub): the signature must match")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Recompute every hash in a package and check its manifest and signature.

    Exit 0 everything matches, 1 anything modified, missing, extra or badly signed, 2 usage error."""
    if fmt not in ("text", "json"):
        fail(f"unknown format '{fmt}' (use text or json)", 2)
    if not package.is_file():
        fail(f"package '{package}' does not exist" if not package.exists() else f"'{package}' is not a file", 2)
    try:
        key = load_public_key(public_key) if public_key else None
        result = verify(package, key)
    except EvidenceError as exc:
        _fail(exc)
        return
    if fmt == "json":
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_text(result)
    if not result.ok:
        raise typer.Exit(1)
