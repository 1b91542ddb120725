"""Evidence packages: deterministic, complete, and every tampering is detected and named."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from zonewarden import __version__
from zonewarden.catalog import load_catalog
from zonewarden.cli.evidence import app
from zonewarden.report.evidence import (
    FORMAT,
    EvidenceError,
    EvidenceUsageError,
    fingerprint,
    load_public_key,
    pack,
    verify,
)
from zonewarden.workspace.load import load_workspace

DEMO = Path(__file__).resolve().parent.parent / "zonewarden" / "data" / "demo"
AS_OF = dt.date(2026, 11, 26)
CLOCK = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
runner = CliRunner()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(DEMO, root)
    return root


def make(root: Path, out: Path, key: Ed25519PrivateKey | None = None, **reports: bytes) -> Path:
    pack(
        load_workspace(root),
        out,
        as_of=AS_OF,
        catalog_version=load_catalog().version,
        reports={f"{k}.json": v for k, v in reports.items()},
        sign_key=key,
        created=CLOCK,
    )
    return out


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """Rewrite a package with ``change`` applied to its members (as a tamperer would)."""
    content = members(src)
    change(content)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    return dst


def manifest(path: Path) -> dict:
    return json.loads(members(path)["manifest.json"])


def cite(root: Path, file: str, requirement: str, *refs: str) -> None:
    """Add evidence refs to one answer of an assessment file."""
    path = root / "assessments" / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["answers"][requirement].setdefault("evidence", []).extend(refs)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def cli(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


# ---------------------------------------------------------------- pack


def test_pack_is_byte_identical_for_the_same_input(ws, tmp_path):
    key = Ed25519PrivateKey.generate()
    for signer in (None, key):
        a = make(ws, tmp_path / "a.zip", signer, report=b"{}")
        b = make(ws, tmp_path / "b.zip", signer, report=b"{}")
        assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert all("\\" not in n for n in names)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert {"manifest.json", "manifest.sig", "manifest.pub", "reports/report.json"} <= set(names)


def test_cli_pack_is_reproducible_with_source_date_epoch(ws, tmp_path):
    env = {"SOURCE_DATE_EPOCH": "1790000000"}
    for name in ("a.zip", "b.zip"):
        result = cli("pack", str(ws), "-o", str(tmp_path / name), "--as-of", "2026-11-26", env=env)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    report = json.loads(members(tmp_path / "a.zip")["reports/report.json"])
    assert report["format"] == "zonewarden-report-1"
    assert report["as_of"] == "2026-11-26"


def test_manifest_describes_every_file(ws, tmp_path):
    out = make(ws, tmp_path / "p.zip")
    m = manifest(out)
    assert m["format"] == FORMAT
    assert m["tool_version"] == __version__
    assert m["catalog_version"] == load_catalog().version
    assert m["site"]["name"] == "Riverside Water Treatment Works"
    assert m["as_of"] == "2026-11-26"
    assert m["missing"] == []
    content = members(out)
    paths = [f["path"] for f in m["files"]]
    assert paths == sorted(paths)
    assert set(content) == {*paths, "manifest.json"}
    for entry in m["files"]:
        data = content[entry["path"]]
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    roles = {f["path"]: f["role"] for f in m["files"]}
    assert roles["plant.yaml"] == roles["assets.csv"] == roles["risk.yaml"] == "model"
    assert roles["assessments/scada.yaml"] == "assessment"
    assert len([p for p in paths if p.startswith("assessments/")]) == len(list((ws / "assessments").glob("*.yaml")))
    fw = next(f for f in m["files"] if f["path"] == "evidence/firewalls/fw-ot-rule-review-2026-09.md")
    assert fw["role"] == "evidence"
    assert "2026-09-18" in fw["dates"]
    assert "2027-09-18" in fw["expires"]
    assert {
        "target": "conduit:remote-access-scada",
        "requirement": "SR 1.13",
        "file": "assessments/conduit-remote-access-scada.yaml",
    } in fw["cited_by"]


def test_only_cited_evidence_is_packed_and_missing_is_listed(ws, tmp_path):
    (ws / "evidence" / "uncited.txt").write_text("not cited by any answer")
    cite(ws, "scada.yaml", "SR 1.1", "evidence/scada/nope.pdf", "intake/plc-restore-test-2026-09.md")
    out = tmp_path / "p.zip"
    result = cli("pack", str(ws), "-o", str(out), "--no-reports", "--as-of", "2026-11-26")
    assert result.exit_code == 0, result.output
    assert "evidence/scada/nope.pdf" in result.output
    m = manifest(out)
    paths = {f["path"] for f in m["files"]}
    assert "evidence/uncited.txt" not in paths
    assert "evidence/intake/plc-restore-test-2026-09.md" in paths  # a ref without evidence/ is found under it
    assert not any(p.startswith("reports/") for p in paths)
    assert m["missing"] == [
        {
            "path": "evidence/scada/nope.pdf",
            "role": "evidence",
            "cited_by": [{"target": "zone:scada", "requirement": "SR 1.1", "file": "assessments/scada.yaml"}],
        }
    ]
    check = cli("verify", str(out))
    assert check.exit_code == 0, check.output
    assert "evidence/scada/nope.pdf" in check.output  # a warning, not a failure


@pytest.mark.parametrize("ref", ["../secret.txt", "evidence/../../secret.pdf", "/etc/secret.pdf"])
def test_refuses_paths_outside_the_workspace(ws, tmp_path, ref):
    (tmp_path / "secret.txt").write_text("secret")
    cite(ws, "scada.yaml", "SR 1.1", ref)
    with pytest.raises(EvidenceError, match=r"assessments/scada\.yaml: SR 1\.1"):
        make(ws, tmp_path / "p.zip")
    result = cli("pack", str(ws), "-o", str(tmp_path / "p.zip"))
    assert result.exit_code == 1
    assert "refusing" in result.output
    assert not (tmp_path / "p.zip").exists()


def test_refuses_asset_sources_outside_the_workspace(ws, tmp_path):
    (tmp_path / "assets.csv").write_text("id\n")
    plant = ws / "plant.yaml"
    plant.write_text(plant.read_text() + "asset_sources:\n  - file: ../assets.csv\n")
    with pytest.raises(EvidenceError, match=r"asset_sources: '\.\./assets\.csv' points outside"):
        make(ws, tmp_path / "p.zip")


def test_reports_from_files_and_bytes(ws, tmp_path):
    (tmp_path / "report.html").write_text("<html></html>")
    out = tmp_path / "p.zip"
    pack(
        load_workspace(ws),
        out,
        as_of=AS_OF,
        catalog_version="test",
        reports={"report.html": tmp_path / "report.html", "report.json": b"{}"},
        created=CLOCK,
    )
    content = members(out)
    assert content["reports/report.html"] == b"<html></html>"
    assert {f["role"] for f in manifest(out)["files"] if f["path"].startswith("reports/")} == {"report"}
    assert verify(out).ok


def test_refuses_symlinks_escaping_the_workspace(ws, tmp_path):
    (tmp_path / "outside.md").write_text("outside")
    (ws / "evidence" / "link.md").symlink_to(tmp_path / "outside.md")
    (ws / "evidence" / "inside.md").symlink_to(ws / "evidence" / "scada" / "hmi-kiosk-lockdown.md")
    cite(ws, "scada.yaml", "SR 1.1", "evidence/inside.md")
    make(ws, tmp_path / "ok.zip")  # a link inside the workspace is fine
    cite(ws, "scada.yaml", "SR 1.1", "evidence/link.md")
    with pytest.raises(EvidenceError, match=r"assessments/scada\.yaml: SR 1\.1: .*outside the workspace"):
        make(ws, tmp_path / "p.zip")
    (ws / "evidence" / "link.md").unlink()
    (tmp_path / "extra.yaml").write_text("zone: scada\nanswers: {}\n")
    (ws / "assessments" / "extra.yaml").symlink_to(tmp_path / "extra.yaml")
    with pytest.raises(EvidenceError, match="outside the workspace"):
        make(ws, tmp_path / "p.zip")


# ---------------------------------------------------------------- verify


@pytest.fixture
def package(ws, tmp_path) -> Path:
    return make(ws, tmp_path / "p.zip", report=b"{}")


@pytest.fixture
def keys(tmp_path) -> tuple[Path, Path]:
    result = cli("keygen", "-o", str(tmp_path / "signer"))
    assert result.exit_code == 0, result.output
    return tmp_path / "signer.key", tmp_path / "signer.pub"


@pytest.fixture
def signed(ws, tmp_path, keys) -> Path:
    out = tmp_path / "signed.zip"
    result = cli("pack", str(ws), "-o", str(out), "--sign-key", str(keys[0]), "--as-of", "2026-11-26")
    assert result.exit_code == 0, result.output
    return out


def test_a_fresh_package_verifies(package, signed, keys):
    result = cli("verify", str(package))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "absent" in result.output
    result = cli("verify", str(signed), "--public-key", str(keys[1]))
    assert result.exit_code == 0, result.output
    assert "signature: valid" in result.output
    data = json.loads(cli("verify", str(signed), "--public-key", str(keys[1]), "--format", "json").output)
    assert data["ok"] is True
    assert data["signature"]["status"] == "valid"
    assert data["files_checked"] == len(manifest(signed)["files"])


def test_signature_not_checked_without_a_public_key(signed, keys):
    result = cli("verify", str(signed))
    assert result.exit_code == 0, result.output
    assert "not checked (no public key given)" in result.output
    assert fingerprint(load_public_key(keys[1])) in result.output  # the embedded key, as information


def test_changed_byte_of_evidence_is_detected(package, tmp_path):
    name = "evidence/scada/hmi-kiosk-lockdown.md"

    def flip(m: dict[str, bytes]) -> None:
        m[name] = bytes([m[name][0] ^ 1]) + m[name][1:]

    result = cli("verify", str(rezip(package, tmp_path / "t.zip", flip)), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [x["path"] for x in data["modified"]] == [name]
    assert "sha256" in data["modified"][0]["reason"]


def test_removed_and_added_files_are_detected(package, tmp_path):
    gone = rezip(package, tmp_path / "gone.zip", lambda m: m.pop("assessments/sis.yaml"))
    result = cli("verify", str(gone))
    assert result.exit_code == 1
    assert "missing: assessments/sis.yaml" in result.output
    added = rezip(package, tmp_path / "added.zip", lambda m: m.update({"evidence/late.pdf": b"%PDF"}))
    result = cli("verify", str(added))
    assert result.exit_code == 1
    assert "extra: evidence/late.pdf" in result.output


def _edit_hash(m: dict[str, bytes], path: str, data: bytes | None = None) -> None:
    doc = json.loads(m["manifest.json"])
    entry = next(f for f in doc["files"] if f["path"] == path)
    if data is None:
        entry["sha256"] = "0" * 64
    else:
        m[path] = data
        entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    m["manifest.json"] = (json.dumps(doc, indent=2) + "\n").encode()


def test_edited_manifest_unsigned_is_a_modified_file(package, tmp_path):
    out = rezip(package, tmp_path / "t.zip", lambda m: _edit_hash(m, "plant.yaml"))
    data = json.loads(cli("verify", str(out), "--format", "json").output)
    assert data["ok"] is False
    assert [x["path"] for x in data["modified"]] == ["plant.yaml"]


def test_consistently_rewritten_manifest_is_caught_by_the_signature(signed, keys, tmp_path):
    forged = rezip(signed, tmp_path / "t.zip", lambda m: _edit_hash(m, "assessments/sis.yaml", b"zone: sis\n"))
    result = cli("verify", str(forged), "--public-key", str(keys[1]))
    assert result.exit_code == 1
    assert "signature: INVALID" in result.output
    stripped = rezip(signed, tmp_path / "s.zip", lambda m: m.pop("manifest.sig"))
    result = cli("verify", str(stripped), "--public-key", str(keys[1]), "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["signature"]["status"] == "absent"


def test_package_signed_with_another_key_fails(ws, tmp_path, keys):
    other = make(ws, tmp_path / "other.zip", Ed25519PrivateKey.generate())
    result = cli("verify", str(other), "--public-key", str(keys[1]))
    assert result.exit_code == 1
    assert "INVALID" in result.output
    assert verify(other).ok  # without a key the signature is only reported


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not valid JSON"), (b'{"format": "something-else", "files": []}', "format is")],
)
def test_bad_manifest_is_reported(package, tmp_path, content, message):
    out = rezip(package, tmp_path / "t.zip", lambda m: m.update({"manifest.json": content}))
    result = cli("verify", str(out))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_truncated_zip_fails(package, tmp_path):
    data = package.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        out = tmp_path / "t.zip"
        out.write_bytes(data[:cut])
        result = cli("verify", str(out))
        assert result.exit_code == 1, result.output
        assert "corrupt or truncated" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_corrupt_member_is_named(package, tmp_path):
    data = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as zf:
        info = zf.getinfo("evidence/scada/hmi-kiosk-lockdown.md")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 8] = b"\xff" * 8  # garbage in the deflate stream
    out = tmp_path / "t.zip"
    out.write_bytes(bytes(data))
    result = cli("verify", str(out), "--format", "json")
    assert result.exit_code == 1
    assert [x["path"] for x in json.loads(result.output)["modified"]] == [info.filename]


def test_usage_errors_exit_2(tmp_path, keys):
    (tmp_path / "notes.txt").write_text("not a zip")
    assert cli("verify", str(tmp_path / "notes.txt")).exit_code == 2
    assert cli("verify", str(tmp_path / "nope.zip")).exit_code == 2
    assert cli("verify", str(tmp_path)).exit_code == 2
    with pytest.raises(EvidenceUsageError):
        verify(tmp_path / "notes.txt")


def test_hostile_member_names_and_sizes(package, tmp_path):
    def hostile(m: dict[str, bytes]) -> None:
        m["x" * 60000] = b""
        m["evil\x1b[2J.txt"] = b""
        m["evidence/scada/hmi-kiosk-lockdown.md"] = bytes(50 << 20)  # compresses to ~50 KB

    out = rezip(package, tmp_path / "t.zip", hostile)
    assert out.stat().st_size < 2 << 20
    result = cli("verify", str(out))
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "evil\\x1b[2J.txt" in result.output
    assert max(len(line) for line in result.output.splitlines()) < 400
    assert "modified: evidence/scada/hmi-kiosk-lockdown.md: size is" in result.output


def test_duplicate_members_are_reported(package, tmp_path):
    out = tmp_path / "t.zip"
    shutil.copy(package, out)
    with pytest.warns(UserWarning), zipfile.ZipFile(out, "a") as zf:
        zf.writestr("plant.yaml", b"site: {name: forged}\n")
    result = verify(out)
    assert not result.ok
    assert any("plant.yaml appears 2 times" in p for p in result.problems)


# ---------------------------------------------------------------- keys


def test_keygen_permissions_fingerprint_and_overwrite(tmp_path, keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    again = cli("keygen", "-o", str(tmp_path / "signer"))
    assert again.exit_code == 2
    assert "--force" in again.output
    assert private.read_bytes() == before
    forced = cli("keygen", "-o", str(tmp_path / "signer.key"), "--force")
    assert forced.exit_code == 0, forced.output
    assert private.read_bytes() != before
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    shown = fingerprint(load_public_key(public))
    assert shown in forced.output
    assert len(shown) == 19 and shown.count(":") == 3


def test_wrong_key_files_are_usage_errors(ws, tmp_path, keys, package):
    private, public = keys
    result = cli("pack", str(ws), "-o", str(tmp_path / "p2.zip"), "--sign-key", str(public))
    assert result.exit_code == 2
    assert "public key" in result.output
    result = cli("verify", str(package), "--public-key", str(private))
    assert result.exit_code == 2
    assert "private key" in result.output


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_signature_verifies_with_openssl(signed, keys, tmp_path):
    content = members(signed)
    for name in ("manifest.json", "manifest.sig"):
        (tmp_path / name).write_bytes(content[name])
    args = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(keys[1]), "-rawin"]
    args += ["-in", str(tmp_path / "manifest.json"), "-sigfile", str(tmp_path / "manifest.sig")]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if "rawin" in done.stderr and done.returncode != 0 and "Unknown" in done.stderr:
        pytest.skip("openssl without -rawin")
    assert done.returncode == 0, done.stderr
    assert io.StringIO(done.stdout).read().strip() == "Signature Verified Successfully"


def test_pack_sign_verify_through_the_real_cli(tmp_path):
    """What the README says, end to end: keygen, pack with reports and a signature, verify, tamper."""
    import os
    import subprocess
    import sys

    ws = tmp_path / "plant"
    env = {**os.environ, "NO_COLOR": "1"}

    def zw(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "zonewarden", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=tmp_path,
        )

    assert zw("init", str(ws), "--demo").returncode == 0
    assert zw("evidence", "keygen", "-o", str(tmp_path / "audit")).returncode == 0
    pkg = tmp_path / "evidence.zip"
    packed = zw(
        "evidence", "pack", str(ws), "-o", str(pkg), "--sign-key", str(tmp_path / "audit.key"), "--as-of", "2026-11-26"
    )
    assert packed.returncode == 0, packed.stderr
    names = set(zipfile.ZipFile(pkg).namelist())
    assert {"manifest.json", "manifest.sig", "plant.yaml", "reports/report.html", "reports/report.json"} <= names
    ok = zw("evidence", "verify", str(pkg), "--public-key", str(tmp_path / "audit.pub"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(pkg) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "plant.yaml":
                data = data.replace(b"Riverside", b"Riversidf", 1)
            dst.writestr(info, data)
    bad = zw("evidence", "verify", str(tampered), "--public-key", str(tmp_path / "audit.pub"))
    assert bad.returncode == 1 and "plant.yaml" in bad.stdout + bad.stderr
