"""SQLite under the data directory: jobs, their results and the images they are about.

One file (`lantern.sqlite3`), written in WAL mode from any thread through one lock. A job is
written when it is queued, when it starts and when it ends (progress is not: it changes too often
to be worth a write). At start-up, jobs a previous process left queued or running are marked
failed, so nothing reads "running" forever.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RESTART_MESSAGE", "Database", "ImageRow", "JobRow"]

RESTART_MESSAGE = "the server stopped while this job was waiting or running; start it again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    error TEXT,
    error_status INTEGER,
    result BLOB
);
CREATE INDEX IF NOT EXISTS jobs_by_finished ON jobs (finished);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    used REAL NOT NULL
);
"""


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    key: str
    request: dict[str, Any]
    status: str
    progress: float
    created: float
    started: float | None
    finished: float | None
    error: str | None
    error_status: int | None


@dataclass(frozen=True)
class ImageRow:
    id: str
    kind: str  # "upload" (the file's bytes), "sample" (its name), "pixels" (.npy bytes)
    name: str
    content: bytes


class Database:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.executescript(_SCHEMA)

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # Jobs

    def save_job(self, row: JobRow, result: bytes | None = None) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.kind,
                    row.key,
                    json.dumps(row.request),
                    row.status,
                    row.progress,
                    row.created,
                    row.started,
                    row.finished,
                    row.error,
                    row.error_status,
                    result,
                ),
            )

    def fail_unfinished(self, message: str = RESTART_MESSAGE) -> int:
        """Mark jobs left queued or running by an earlier process as failed; returns how many."""
        with self._cursor() as cursor:
            cursor.execute(
                "UPDATE jobs SET status = 'failed', error = ?, error_status = 503, finished = ? "
                "WHERE status IN ('queued', 'running')",
                (message, time.time()),
            )
            return cursor.rowcount

    def recent_jobs(self, count: int) -> list[JobRow]:
        """The `count` most recently finished jobs (without their results), oldest first; older
        ones are deleted."""
        with self._cursor() as cursor:
            cursor.execute(
                "DELETE FROM jobs WHERE id NOT IN "
                "(SELECT id FROM jobs ORDER BY finished DESC LIMIT ?)",
                (count,),
            )
            rows = cursor.execute(
                "SELECT id, kind, key, request, status, progress, created, started, finished, "
                "error, error_status FROM jobs ORDER BY finished DESC LIMIT ?",
                (count,),
            ).fetchall()
        return [_job_row(row) for row in reversed(rows)]

    def job_result(self, job_id: str) -> bytes | None:
        with self._cursor() as cursor:
            row = cursor.execute("SELECT result FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row[0]

    def forget_jobs(self, job_ids: list[str]) -> None:
        with self._cursor() as cursor:
            cursor.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in job_ids])

    # Images

    def save_image(self, row: ImageRow, kept: int) -> None:
        """Store an image, then drop the least recently used beyond `kept`."""
        with self._cursor() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?)",
                (row.id, row.kind, row.name, row.content, time.time()),
            )
            cursor.execute(
                "DELETE FROM images WHERE id NOT IN "
                "(SELECT id FROM images ORDER BY used DESC LIMIT ?)",
                (kept,),
            )

    def image(self, image_id: str) -> ImageRow | None:
        with self._cursor() as cursor:
            row = cursor.execute(
                "SELECT id, kind, name, content FROM images WHERE id = ?", (image_id,)
            ).fetchone()
            if row is not None:
                cursor.execute("UPDATE images SET used = ? WHERE id = ?", (time.time(), image_id))
        return None if row is None else ImageRow(*row)


def _job_row(row: tuple[Any, ...]) -> JobRow:
    values = list(row)
    values[3] = json.loads(values[3])
    return JobRow(*values)
