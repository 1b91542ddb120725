"""Evidence packages: the model, the assessments and every cited evidence file in one zip,
with a manifest of SHA-256 hashes, optionally signed with Ed25519.

The same inputs (and creation time) give a byte-identical archive: entries are sorted,
dated 1980-01-01 and the manifest is canonical JSON. Nothing in a package is extracted
when it is verified; members are hashed in chunks, never read whole.
See docs/evidence.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zonewarden import __version__
from zonewarden.errors import ZoneWardenError
from zonewarden.workspace.load import DEFAULT_ASSET_FILES, Workspace
from zonewarden.workspace.program_files import RISK_FILE, assessment_files

FORMAT = "zonewarden-evidence-1"
MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "manifest.pub"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20
MAX_SMALL = 64 << 20  # manifest.json, manifest.sig, manifest.pub are read whole, up to this size
PASSPHRASE_ENV = "ZONEWARDEN_SIGN_KEY_PASSPHRASE"  # read by the CLI for encrypted signing keys
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class EvidenceError(ZoneWardenError):
    """A package cannot be built or checked as asked (exit 1)."""


class EvidenceUsageError(EvidenceError):
    """The user pointed at something unusable: no such file, not a zip, not a key (exit 2)."""


# ---------------------------------------------------------------- keys


def fingerprint(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key, in groups of 4."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_paths(name: Path) -> tuple[Path, Path]:
    """NAME -> (NAME.key, NAME.pub); a trailing .key or .pub in NAME is dropped."""
    base = name.with_suffix("") if name.suffix in (".key", ".pub") else name
    return base.with_name(base.name + ".key"), base.with_name(base.name + ".pub")


def write_keypair(name: Path, force: bool = False) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair: NAME.key (PKCS8 PEM, mode 0600) and NAME.pub; return the fingerprint."""
    private_path, public_path = key_paths(name)
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing and not force:
        raise EvidenceUsageError(f"{' and '.join(existing)} already exist(s); use --force to overwrite")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        private_path.unlink(missing_ok=True)  # a new file, created 0600: never briefly readable by others
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.chmod(private_path, 0o600)
        public_path.write_bytes(public_pem(key.public_key()))
    except OSError as exc:
        raise EvidenceUsageError(f"cannot write the key pair: {exc}") from None
    return private_path, public_path, fingerprint(key.public_key())


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EvidenceUsageError(f"cannot read key '{path}': {exc.strerror or exc}") from None


def load_private_key(path: Path, password: bytes | None = None) -> Ed25519PrivateKey:
    data = _read_key_file(path)
    if b"PUBLIC KEY" in data and b"PRIVATE KEY" not in data:
        raise EvidenceUsageError(f"'{path}' is a public key; signing needs the private key (NAME.key)")
    try:
        key = serialization.load_pem_private_key(data, password)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
        raise EvidenceUsageError(f"'{path}': {exc} (the passphrase is read from {PASSPHRASE_ENV})") from None
    except ValueError as exc:
        raise EvidenceUsageError(f"'{path}' is not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceUsageError(f"'{path}' is not an Ed25519 key (create one with: zonewarden evidence keygen)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key (NAME.pub) or an OpenSSH 'ssh-ed25519 ...' line."""
    data = _read_key_file(path)
    if b"PRIVATE KEY" in data:
        raise EvidenceUsageError(f"'{path}' is a private key; verification takes the public key (NAME.pub)")
    try:
        loader = serialization.load_ssh_public_key if data.startswith(b"ssh-") else serialization.load_pem_public_key
        key = loader(data)
    except (ValueError, TypeError) as exc:
        raise EvidenceUsageError(f"'{path}' is not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceUsageError(f"'{path}' is not an Ed25519 public key")
    return key


# ---------------------------------------------------------------- pack


@dataclass
class _Source:
    path: str  # in the zip, forward slashes
    role: str  # model, assessment, evidence, report
    file: Path | None = None
    data: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        assert self.file is not None
        with open(self.file, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk


@dataclass
class PackResult:
    path: Path
    manifest: dict[str, Any]
    missing: list[dict[str, Any]]
    signed_by: str | None  # fingerprint of the signing key


def safe_relative(rel: str, where: str) -> str:
    """A workspace-relative path with forward slashes; absolute paths and '..' are refused."""
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts:
        raise EvidenceError(f"{where}: '{rel}' points outside the workspace; refusing to pack it")
    return "/".join(p for p in parts if p not in ("", "."))


def evidence_path(ref: str, where: str) -> str:
    """Where a file ref lives: evidence/<ref>, or the ref itself when it already starts with evidence/."""
    rel = safe_relative(ref, where)
    return rel if rel.startswith("evidence/") else f"evidence/{rel}"


def _existing(root: Path, rel: str, where: str) -> Path | None:
    """The file at ``rel`` if it is a regular file inside the workspace (symlinks must not escape)."""
    path = root / rel
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        return None
    except (OSError, RuntimeError) as exc:  # symlink loop, permission
        raise EvidenceError(f"{where}: cannot read '{rel}': {exc}") from None
    if not real.is_relative_to(root.resolve()):
        raise EvidenceError(f"{where}: '{rel}' is a symlink to {real}, outside the workspace; refusing to pack it")
    return path if real.is_file() else None


def collect(ws: Workspace) -> tuple[list[_Source], list[dict[str, Any]]]:
    """The files a package holds, and the cited (or declared) files that are not in the workspace."""
    root = ws.root
    plant_file = ws.locations.default_file
    named = [s.file for s in ws.plant.asset_sources]
    models = [plant_file, *named, *(d for d in DEFAULT_ASSET_FILES if d not in named), RISK_FILE]
    sources: dict[str, _Source] = {}
    missing: list[dict[str, Any]] = []
    for name in models:
        rel = safe_relative(name, f"{plant_file}: asset_sources" if name in named else name)
        path = _existing(root, rel, plant_file)
        if path is not None:
            sources.setdefault(rel, _Source(rel, "model", path))
        elif name in named:
            missing.append({"path": rel, "role": "model", "cited_by": []})
    for name in assessment_files(root):
        rel = safe_relative(name, name)
        if (path := _existing(root, rel, rel)) is not None:
            sources[rel] = _Source(rel, "assessment", path)
    cited: dict[str, dict[str, Any]] = {}
    for file, assessment in ws.assessments:
        file = file.replace("\\", "/")
        kind, ident = assessment.target
        for rid, answer in assessment.answers.items():
            for ev in answer.evidence:
                if ev.kind != "file":
                    continue
                where = f"{file}: {rid}: evidence"
                rel = evidence_path(ev.ref, where)
                info = cited.setdefault(rel, {"where": where, "dates": set(), "expires": set(), "cited_by": []})
                info["dates"].update([ev.date.isoformat()] if ev.date else [])
                info["expires"].update([ev.expires.isoformat()] if ev.expires else [])
                info["cited_by"].append({"target": f"{kind}:{ident}", "requirement": rid, "file": file})
    for rel, info in cited.items():
        by = sorted(info["cited_by"], key=lambda c: (c["file"], c["requirement"], c["target"]))
        path = _existing(root, rel, info["where"])
        if path is None:
            missing.append({"path": rel, "role": "evidence", "cited_by": by})
            continue
        extra = {"dates": sorted(info["dates"]), "expires": sorted(info["expires"]), "cited_by": by}
        sources[rel] = _Source(rel, "evidence", path, extra=extra)
    return sorted(sources.values(), key=lambda s: s.path), sorted(missing, key=lambda m: m["path"])


def _hash(chunks: Iterator[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # the same bytes on every OS
    info.external_attr = 0o100644 << 16
    info.file_size = size  # lets zipfile choose zip64 up front for large members
    return info


def pack(
    ws: Workspace,
    output: Path,
    *,
    as_of: dt.date,
    catalog_version: str,
    reports: Mapping[str, bytes | Path] | None = None,
    sign_key: Ed25519PrivateKey | None = None,
    created: dt.datetime | None = None,
) -> PackResult:
    """Write the evidence package of ``ws`` to ``output``.

    ``reports`` maps names under reports/ (e.g. "report.json", "report.html") to their bytes or
    a file. ``created`` fixes the creation time (default now, UTC) for reproducible packages."""
    sources, missing = collect(ws)
    for name, content in sorted((reports or {}).items()):
        rel = "reports/" + safe_relative(name, "report")
        data, file = (content, None) if isinstance(content, bytes) else (None, content)
        sources.append(_Source(rel, "report", file, data))
    sources.sort(key=lambda s: s.path)
    if dupes := [p for p, n in Counter(s.path for s in sources).items() if n > 1]:
        raise EvidenceError(f"two files would be packed as '{dupes[0]}'")
    entries, digests, sizes = [], {}, {}
    for src in sources:
        try:
            sizes[src.path], digests[src.path] = _hash(src.chunks())
        except OSError as exc:
            raise EvidenceError(f"cannot read '{src.file}': {exc.strerror or exc}") from None
        entries.append({"path": src.path, "role": src.role, "size": sizes[src.path], "sha256": digests[src.path]})
        entries[-1].update(src.extra)
    when = (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    manifest = {
        "format": FORMAT,
        "tool": "zonewarden",
        "tool_version": __version__,
        "catalog_version": catalog_version,
        "created": when.isoformat().replace("+00:00", "Z"),
        "site": {"id": ws.plant.site.id, "name": ws.plant.site.name},
        "as_of": as_of.isoformat(),
        "hash": "sha256",
        "files": entries,
        "missing": missing,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    small = {MANIFEST: text.encode("utf-8")}
    if sign_key is not None:
        small[SIGNATURE] = sign_key.sign(small[MANIFEST])
        small[PUBLIC_KEY] = public_pem(sign_key.public_key())
    members: list[tuple[str, _Source | bytes]] = [*small.items(), *((s.path, s) for s in sources)]
    part = output.with_name(f".{output.name}.part")
    try:
        with open(part, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, member in sorted(members, key=lambda m: m[0]):
                if isinstance(member, bytes):
                    zf.writestr(_zip_info(name, len(member)), member)
                    continue
                digest = hashlib.sha256()
                with zf.open(_zip_info(name, sizes[name]), "w") as out:
                    for chunk in member.chunks():
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != digests[name]:
                    raise EvidenceError(f"'{name}' changed while it was being packed; pack again")
        os.replace(part, output)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a file grew past its zip header while packing
        raise EvidenceError(f"cannot write '{output}': {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        part.unlink(missing_ok=True)
    signed_by = fingerprint(sign_key.public_key()) if sign_key is not None else None
    return PackResult(output, manifest, missing, signed_by)


# ---------------------------------------------------------------- verify


@dataclass
class Verification:
    """What ``verify`` found. ``ok`` is the verdict; the lists name every problem."""

    package: str
    manifest: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)  # the package as a whole: zip, manifest, duplicates
    modified: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    missing: list[str] = field(default_factory=list)  # in the manifest, not in the zip
    extra: list[str] = field(default_factory=list)  # in the zip, not in the manifest
    warnings: list[str] = field(default_factory=list)
    signature: str = "absent"  # valid, invalid, absent, not-checked
    not_checked_because: str = ""  # why the signature is not-checked
    key_required: bool = False
    key: str | None = None  # fingerprint of the public key given
    embedded_key: str | None = None  # fingerprint of manifest.pub (information only, never trusted)
    checked: int = 0

    @property
    def ok(self) -> bool:
        signature_ok = self.signature == "valid" if self.key_required else self.signature != "invalid"
        return signature_ok and not (self.problems or self.modified or self.missing or self.extra)

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest or {}
        return {
            "package": self.package,
            "ok": self.ok,
            **{k: m.get(k) for k in ("format", "site", "as_of", "created", "tool_version", "catalog_version")},
            "files_checked": self.checked,
            "modified": self.modified,
            "missing": self.missing,
            "extra": self.extra,
            "problems": self.problems,
            "warnings": self.warnings,
            "signature": {
                "status": self.signature,
                "not_checked_because": self.not_checked_because or None,
                "required": self.key_required,
                "key_fingerprint": self.key,
                "embedded_key_fingerprint": self.embedded_key,
            },
        }


def verify(path: Path, public_key: Ed25519PublicKey | None = None) -> Verification:
    """Check a package: every hash and size, missing and extra files, the manifest, the signature.

    With ``public_key`` the manifest must carry a valid signature by that key; manifest.pub in
    the package is never trusted. Raises :class:`EvidenceUsageError` when ``path`` is not a zip."""
    result = Verification(str(path), key_required=public_key is not None)
    result.key = fingerprint(public_key) if public_key is not None else None
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise EvidenceUsageError(f"cannot read '{path}': {exc.strerror or exc}") from None
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, bogus offsets or sizes in a damaged central directory, ...
        if not magic.startswith(b"PK"):
            raise EvidenceUsageError(f"'{path}' is not a zip file") from None
        result.problems.append(f"the zip is corrupt or truncated ({exc})")
        result.signature, result.not_checked_because = "not-checked", "the package cannot be read"
        return result
    with zf:
        _check(zf, result, public_key)
    return result


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None, result: Verification) -> bytes | None:
    if info is None:
        return None
    if info.file_size > MAX_SMALL:
        result.problems.append(f"{info.filename} is implausibly large ({info.file_size} bytes)")
        return None
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_SMALL + 1)
    except Exception as exc:  # damaged member: bad CRC, bad deflate data, unsupported method, encrypted
        result.problems.append(f"{info.filename} cannot be read ({exc})")
        return None
    if len(data) > MAX_SMALL:
        result.problems.append(f"{info.filename} is larger than its zip header says")
        return None
    return data


def _check(zf: zipfile.ZipFile, result: Verification, public_key: Ed25519PublicKey | None) -> None:
    infos = zf.infolist()
    result.problems += [
        f"{n} appears {c} times in the zip" for n, c in sorted(Counter(i.filename for i in infos).items()) if c > 1
    ]
    members = {i.filename: i for i in infos}
    raw = _read_small(zf, members.get(MANIFEST), result)
    sig = _read_small(zf, members.get(SIGNATURE), result)
    pub = _read_small(zf, members.get(PUBLIC_KEY), result)
    if pub is not None:
        try:
            embedded = serialization.load_pem_public_key(pub)
            result.embedded_key = fingerprint(embedded) if isinstance(embedded, Ed25519PublicKey) else None
        except (ValueError, TypeError):
            result.warnings.append(f"{PUBLIC_KEY} is not a PEM public key")
    if sig is None and SIGNATURE in members:
        result.signature, result.not_checked_because = "not-checked", f"{SIGNATURE} cannot be read"
    elif sig is None:
        result.signature = "absent"
    elif public_key is None:
        result.signature, result.not_checked_because = "not-checked", "no public key given"
    else:
        try:
            public_key.verify(sig, raw or b"")
            result.signature = "valid"
        except InvalidSignature:
            result.signature = "invalid"
    if raw is None:
        if MANIFEST not in members:
            result.problems.append(f"no {MANIFEST} in the package")
        return
    manifest = _parse_manifest(raw, result)
    if manifest is None:
        return
    listed: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(manifest["files"]):
        if not _entry_ok(entry):
            result.problems.append(f"{MANIFEST}: files[{i}] is not a {{path, size, sha256}} entry")
        elif entry["path"] in listed:
            result.problems.append(f"{MANIFEST}: {entry['path']} is listed twice")
        else:
            listed[entry["path"]] = entry
    for name, entry in listed.items():
        info = members.get(name)
        if info is None:
            result.missing.append(name)
            continue
        result.checked += 1
        reason = _compare(zf, info, entry["size"], entry["sha256"].lower())
        if reason:
            result.modified.append({"path": name, "reason": reason})
    result.extra = sorted(n for n in members if n not in listed and n not in (MANIFEST, SIGNATURE, PUBLIC_KEY))
    gone = manifest.get("missing")
    for item in gone if isinstance(gone, list) else []:
        where = item.get("path") if isinstance(item, dict) else item
        result.warnings.append(f"cited but not in the workspace when packed: {where}")


def _parse_manifest(raw: bytes, result: Verification) -> dict[str, Any] | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        result.problems.append(f"{MANIFEST} is not valid JSON")
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        result.problems.append(f"{MANIFEST}: format is {found!r}, expected {FORMAT!r}")
        return None
    result.manifest = data
    if not isinstance(data.get("files"), list):
        result.problems.append(f"{MANIFEST}: 'files' is not a list")
        return None
    return data


def _entry_ok(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    path, size, digest = entry.get("path"), entry.get("size"), entry.get("sha256")
    sized = type(size) is int and size >= 0
    return (
        isinstance(path, str) and bool(path) and sized and isinstance(digest, str) and bool(_SHA256.fullmatch(digest))
    )


def _compare(zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, want: str) -> str | None:
    """Why the member differs from its manifest entry, or None. Reads at most size + 1 bytes."""
    if info.file_size != size:
        return f"size is {info.file_size} bytes, the manifest says {size}"
    digest, seen = hashlib.sha256(), 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(min(CHUNK, size + 1 - seen)):
                seen += len(chunk)
                if seen > size:
                    return f"holds more than the {size} bytes its header and the manifest say"
                digest.update(chunk)
    except Exception as exc:  # damaged member: bad CRC, bad deflate data, unsupported method, encrypted
        return f"cannot be read ({exc})"
    if seen != size:
        return f"holds {seen} bytes, the manifest says {size}"
    return None if digest.hexdigest() == want else "content differs (sha256 does not match the manifest)"
