"""Where every value of a workspace came from, computed only when somebody asks.

Big workspaces load through libyaml without positions; the positions of a file
are worked out the first time a diagnostic needs one (most files never do).
Spreadsheet rows keep their row number and column map. A path is the tuple of
keys and indexes to a value; files other than plant.yaml sit under
``("@file", relative path)``.
"""

from __future__ import annotations

from typing import Any

from zonewarden.errors import Location
from zonewarden.workspace.yamlpos import KEY, positions_of

Path_ = tuple[Any, ...]


class Locations:
    def __init__(self, default_file: str) -> None:
        self.default_file = default_file
        self._known: dict[Path_, Location] = {}
        self._pending: dict[Path_, tuple[str, str]] = {}  # prefix -> (text, filename)
        self._rows: dict[Path_, tuple[str, int, dict[str, int]]] = {}  # ("assets", i) -> (file, line, columns)
        self._moves: dict[Path_, list[tuple[Path_, list[int]]]] = {}  # prefix -> reindexings to replay

    # -- registering ---------------------------------------------------------
    def add_positions(self, prefix: Path_, filename: str, positions: dict[Path_, tuple[int, int]]) -> None:
        for path, (line, col) in positions.items():
            self._known[prefix + path] = Location(filename, line, col)

    def add_pending(self, prefix: Path_, filename: str, text: str) -> None:
        self._pending[prefix] = (text, filename)

    def add_row(self, base: Path_, file: str, line: int, columns: dict[str, int]) -> None:
        self._rows[base] = (file, line, columns)

    def drop_row(self, base: Path_) -> None:
        self._rows.pop(base, None)

    # -- editing -------------------------------------------------------------
    def _prefix_of(self, path: Path_) -> Path_:
        return path[:2] if path and path[0] == "@file" else ()

    def ensure(self, path: Path_) -> None:
        """Work out the positions of the file that holds ``path`` if not done yet."""
        prefix = self._prefix_of(path)
        pending = self._pending.pop(prefix, None)
        if pending is None:
            return
        text, filename = pending
        self.add_positions(prefix, filename, positions_of(text, filename))
        for list_path, kept in self._moves.pop(prefix, []):
            self._reindex_known(list_path, kept)

    def reindex(self, list_path: Path_, kept: list[int], total: int) -> None:
        """The list at ``list_path`` of ``total`` items kept only ``kept`` (old indexes, in order): renumber."""
        if len(kept) == total:
            return
        prefix = self._prefix_of(list_path)
        if prefix in self._pending:  # replay once the positions exist
            self._moves.setdefault(prefix, []).append((list_path, kept))
            return
        self._reindex_known(list_path, kept)

    def _reindex_known(self, list_path: Path_, kept: list[int]) -> None:
        n = len(list_path)
        old_to_new = {old: new for new, old in enumerate(kept)}
        moved: dict[Path_, Location] = {}
        for path in [p for p in self._known if len(p) > n and p[:n] == list_path and isinstance(p[n], int)]:
            loc = self._known.pop(path)
            if path[n] in old_to_new:
                moved[(*list_path, old_to_new[path[n]], *path[n + 1 :])] = loc
        self._known.update(moved)

    def alias(self, old: Path_, new: Path_) -> None:
        """Make ``new`` (and everything under it) point where ``old`` does (a renamed key)."""
        self.ensure(old)
        n = len(old)
        for path in [p for p in self._known if p[:n] == old]:
            self._known[(*new, *path[n:])] = self._known[path]

    # -- asking --------------------------------------------------------------
    def get(self, path: Path_) -> Location | None:
        self.ensure(path)
        if len(path) >= 2 and path[:2] in self._rows:
            file, line, columns = self._rows[path[:2]]
            field = path[2] if len(path) > 2 else None
            return Location(file, line, columns.get(str(field), 1) if field not in (None, KEY) else 1)
        return self._known.get(path)

    def locate(self, path: Path_) -> Location:
        """The closest known location on ``path`` (walking up), else the file's start."""
        probe = path
        while probe:
            found = self.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        prefix = self._prefix_of(path)
        if prefix:
            return self.get(prefix) or Location(prefix[1], 1, 1)
        return self._known.get((), Location(self.default_file, 1, 1))
