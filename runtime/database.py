"""One SQLite file of the runtime's: a connection shared by threads, and write failures told as storage faults."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from common.storage.retention import StorageUnavailable


class Database:
    def __init__(self, path: Path, schema: str, what: str) -> None:
        """`what` names the records in error messages ("the jobs database")."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.what = what
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(schema)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def columns(self, table: str) -> set[str]:
        return {row["name"] for row in self.execute(f"PRAGMA table_info({table})")}

    def execute(self, sql: str, *args: object) -> list[sqlite3.Row]:
        return self._run(sql, args).fetchall()

    def changed(self, sql: str, *args: object) -> int:
        """Run a statement; how many rows it changed."""
        return int(self._run(sql, args).rowcount)

    def _run(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.OperationalError as exc:  # disk full, read-only folder, locked file
                raise StorageUnavailable(
                    f"{self.what} cannot be written ({exc}); free space under RUNTIME_DATA_DIR"
                ) from exc
