"""Console helpers shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

# Piped output (files, CI logs) gets a generous fixed width instead of 80 columns.
console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay one line each (grep-able)


def fail(message: str, code: int = 1) -> None:
    """Print an error for the user and exit with ``code`` (1 bad input, 2 usage)."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise SystemExit(code)


def print_json(document: dict[str, Any]) -> None:
    """``document`` as indented JSON on stdout, streamed: a value that is a sequence but not a list (the
    flow records of a discovery, made on demand) is written one compact item per line, never held whole;
    a list is written item by item (as ``json.dumps(..., indent=2)`` would write it whole: the assets of
    100,000 hosts are not made into one string)."""
    write = sys.stdout.write
    write("{")
    for n, (key, value) in enumerate(document.items()):
        write(("," if n else "") + f"\n  {json.dumps(key)}: ")
        lazy = isinstance(value, Sequence) and not isinstance(value, list | tuple | str)
        if lazy or isinstance(value, list):
            sep = "\n    "
            write("[")
            for item in value:
                text = json.dumps(item, default=str) if lazy else json.dumps(item, indent=2, default=str)
                write(sep + (text if lazy else text.replace("\n", "\n    ")))
                sep = ",\n    "
            write("\n  ]" if sep != "\n    " else "]")
        else:
            write(json.dumps(value, indent=2, default=str).replace("\n", "\n  "))
    write("\n}\n")


def sl_cell(level: int | None) -> str:
    if level is None:
        return "[dim]-[/]"
    colour = {0: "dim", 1: "green", 2: "yellow", 3: "dark_orange", 4: "red"}[level]
    return f"[{colour}]{level}[/]"


CAPTURE_SUFFIXES = frozenset({"", ".pcap", ".pcapng", ".cap", ".dmp", ".gz", ".ntar", ".trace"})


def capture_files(paths: list[Path]) -> list[Path]:
    """The captures to read, each once: files as named, and the capture files found (recursively, in name
    order) in folders. Other files in folders, and named files that neither are captures nor are named
    like one (a MANIFEST.tsv that a shell's ``**/*`` picked up), are skipped with a note; a file named
    like a capture that is not one is read and reported. Missing paths exit 2."""
    from zonewarden.traffic.capture import is_capture_file

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such capture file: {', '.join(missing)}", 2)
    out: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if not path.is_dir():
            named_like_one = path.suffix.lower() in CAPTURE_SUFFIXES
            (out if named_like_one or is_capture_file(path) else skipped).append(path)
            continue
        for p in sorted(p for p in path.rglob("*") if p.is_file()):
            (out if is_capture_file(p) else skipped).append(p)
    if skipped:
        err_console.print(
            f"skipped {len(skipped)} file(s) that are not pcap or pcapng captures, e.g. {skipped[0]}",
            markup=False,
        )
    if not out:
        fail("no capture files in " + ", ".join(str(p) for p in paths), 2)
    seen: set[Path] = set()  # a file named and also found in a named folder (a shell's ** glob) is read once
    unique = []
    for p in out:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


@contextmanager
def capture_progress(captures: list[Path], label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar over the bytes of several capture files, on stderr; yields the callback
    ``progress(bytes consumed in the current file)`` that the readers call per batch."""
    total = sum(c.stat().st_size for c in captures)
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(
        "[progress.description]{task.description}", *columns, console=err_console, disable=quiet, transient=True
    ) as bar:
        task = bar.add_task(label, total=total)
        done = {"base": 0, "last": 0}

        def progress(consumed: int) -> None:
            if consumed < done["last"]:  # a new file started
                done["base"] += done["last"]
            done["last"] = consumed
            bar.update(task, completed=min(total, done["base"] + consumed))

        yield progress
