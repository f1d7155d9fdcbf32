"""Jobs: generate requests run in the background, recorded in SQLite so that a restart loses none.

A job is queued, then running (with its stage), then done (with the result) or failed (with the reason).
Jobs that were running when the process stopped are queued again on start, up to MAX_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from common.errors import BadGateway, Misconfigured, NotFound, ServiceError, ServiceUnavailable, TooManyRequests
from common.http.observability import REQUEST_ID
from common.storage.retention import StorageUnavailable
from contracts.runtime import ChatJob, GenerateRequest, GenerateResult, Job, JobKind, ReplyResult
from runtime.database import Database

log = logging.getLogger("runtime.jobs")
MAX_ATTEMPTS = 3
RETRY_DELAY_S = 2.0  # pause before a job the gpu_service failed is tried again (then it waits for /health)
TYPICAL_JOB_S = 10.0  # for Retry-After before any job has finished
STORAGE_RETRY_S, STORAGE_RETRY_MAX_S = 2.0, 30.0  # waiting for space: first pause, longest pause

StageCallback = Callable[[str], Awaitable[None]]
JobRequest = GenerateRequest | ChatJob
JobResult = GenerateResult | ReplyResult
JobFunction = Callable[[JobRequest, StageCallback, str], Awaitable[JobResult]]  # request, stage, owner
ReadyWait = Callable[[float], Awaitable[bool]]  # wait up to that many seconds for the gpu_service; whether it answers

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'generate',
    owner TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    stage TEXT,
    request TEXT NOT NULL,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
"""


class JobStore:
    def __init__(self, path: Path) -> None:
        self._db = Database(path, SCHEMA, "the jobs database")
        columns = self._db.columns("jobs")
        # A database from before jobs had kinds and owners: generate jobs of the keyless single owner.
        for column, default in (("kind", "generate"), ("owner", "")):
            if column not in columns:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} TEXT NOT NULL DEFAULT '{default}'")
        if "started_at" not in columns:
            self._db.execute("ALTER TABLE jobs ADD COLUMN started_at REAL")

    def close(self) -> None:
        self._db.close()

    def _execute(self, sql: str, *args: object) -> list[sqlite3.Row]:
        return self._db.execute(sql, *args)

    def create(self, request: JobRequest, owner: str, kind: JobKind = "generate") -> Job:
        now = time.time()
        job_id = uuid.uuid4().hex
        self._execute(
            "INSERT INTO jobs (id, kind, owner, status, request, created_at, updated_at) "
            "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
            job_id,
            kind,
            owner,
            request.model_dump_json(),
            now,
            now,
        )
        return self.get(job_id, owner)

    def get(self, job_id: str, owner: str) -> Job:
        """The job, for its owner; other keys are told it does not exist."""
        rows = self._execute("SELECT * FROM jobs WHERE id = ? AND owner = ?", job_id, owner)
        if not rows:
            raise NotFound(f"no job '{job_id}'")
        return _job(rows[0])

    def owner_of(self, job_id: str) -> str:
        rows = self._execute("SELECT owner FROM jobs WHERE id = ?", job_id)
        if not rows:
            raise NotFound(f"no job '{job_id}'")
        return str(rows[0]["owner"])

    def recent(self, limit: int, owner: str) -> list[Job]:
        rows = self._execute("SELECT * FROM jobs WHERE owner = ? ORDER BY created_at DESC LIMIT ?", owner, limit)
        return [_job(row) for row in rows]

    def count(self, status: str) -> int:
        return int(self._execute("SELECT COUNT(*) FROM jobs WHERE status = ?", status)[0][0])

    def queued_ids(self) -> list[str]:
        return [row["id"] for row in self._execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at")]

    def mean_run_s(self) -> float:
        """How long a job runs once started (the last 20 done), not counting its wait in the queue: the queue
        drains at this pace. Before, waits were counted too, and Retry-After said 200 s for a 13 s drain."""
        row = self._execute(
            "SELECT AVG(updated_at - started_at) FROM (SELECT * FROM jobs WHERE status = 'done' "
            "AND started_at IS NOT NULL ORDER BY updated_at DESC LIMIT 20)"
        )[0]
        return float(row[0]) if row[0] is not None else TYPICAL_JOB_S

    def start(self, job_id: str) -> None:
        self._execute(
            "UPDATE jobs SET status = 'running', stage = 'resolving', attempts = attempts + 1, "
            "started_at = ?, updated_at = ? WHERE id = ?",
            time.time(),
            time.time(),
            job_id,
        )

    def set_stage(self, job_id: str, stage: str) -> None:
        self._execute("UPDATE jobs SET stage = ?, updated_at = ? WHERE id = ?", stage, time.time(), job_id)

    def finish(self, job_id: str, result: JobResult) -> None:
        self._execute(
            "UPDATE jobs SET status = 'done', stage = NULL, error = NULL, result = ?, updated_at = ? WHERE id = ?",
            result.model_dump_json(),
            time.time(),
            job_id,
        )

    def fail(self, job_id: str, reason: str) -> None:
        self._execute(
            "UPDATE jobs SET status = 'failed', stage = NULL, error = ?, updated_at = ? WHERE id = ?",
            reason,
            time.time(),
            job_id,
        )

    def delete_finished_before(self, max_age_s: float) -> int:
        """Forget done and failed jobs last updated more than `max_age_s` ago (retention); how many."""
        return self._db.changed(
            "DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < ?", time.time() - max_age_s
        )

    def requeue(self, job_id: str, note: str, *, count_attempt: bool = True) -> None:
        """Back to 'queued' after a transient failure; `note` stays visible in `error` until it ends.
        A storage fault is not the job's: it does not use up one of its attempts."""
        self._execute(
            "UPDATE jobs SET status = 'queued', stage = NULL, error = ?, updated_at = ?, "
            "attempts = attempts - ? WHERE id = ?",
            note,
            time.time(),
            0 if count_attempt else 1,
            job_id,
        )

    def recover_interrupted(self) -> None:
        """Jobs left 'running' by a stopped process: queue them again, or fail them after MAX_ATTEMPTS."""
        now = time.time()
        self._execute(
            "UPDATE jobs SET status = 'failed', stage = NULL, updated_at = ?, error = "
            "'interrupted by a restart on every one of its attempts' "
            "WHERE status = 'running' AND attempts >= ?",
            now,
            MAX_ATTEMPTS,
        )
        self._execute("UPDATE jobs SET status = 'queued', stage = NULL, updated_at = ? WHERE status = 'running'", now)


def _job(row: sqlite3.Row) -> Job:
    chat = row["kind"] == "chat_reply"
    return Job(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        stage=row["stage"],
        created_at=datetime.fromtimestamp(row["created_at"], UTC),
        updated_at=datetime.fromtimestamp(row["updated_at"], UTC),
        attempts=row["attempts"],
        request=(ChatJob if chat else GenerateRequest).model_validate_json(row["request"]),
        result=(ReplyResult if chat else GenerateResult).model_validate_json(row["result"]) if row["result"] else None,
        error=row["error"],
    )


class JobRunner:
    """A bounded queue in front of a few workers; the queue itself lives in the database."""

    def __init__(
        self,
        store: JobStore,
        work: JobFunction,
        workers: int,
        max_queued: int,
        wait_ready: ReadyWait | None = None,
        retry_deadline_s: float = 120.0,
    ) -> None:
        self._store = store
        self._work = work
        self._wait_ready = wait_ready
        self._retry_deadline_s = retry_deadline_s
        self._failing_since: dict[str, float] = {}  # job -> when its gpu_service first failed it
        self._workers = workers
        self._max_queued = max_queued
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.Task[None]] = set()
        self._interrupted: set[str] = set()  # jobs left 'running' by a storage fault: run again, not skipped
        self._storage_fault: str | None = None  # the last storage error, until a job gets through again
        self._running_since: dict[str, float] = {}

    def problems(self, stuck_after_s: float) -> list[str]:
        """Why jobs are not being served, in words, for /health."""
        found = []
        for task in self._tasks:
            if task.done() and not task.cancelled():
                found.append(f"a job worker stopped: {task.exception()!r}")
        if self._storage_fault is not None:
            found.append(f"jobs are waiting for storage: {self._storage_fault}")
        now = time.monotonic()
        for job_id, since in self._running_since.items():
            if now - since > stuck_after_s:
                found.append(f"job {job_id} has been running for {now - since:.0f} s")
        return found

    async def start(self) -> None:
        self._store.recover_interrupted()
        for job_id in self._store.queued_ids():
            self._queue.put_nowait(job_id)
        self._tasks = [asyncio.create_task(self._worker(), name=f"job-worker-{n}") for n in range(self._workers)]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._retries]:
            task.cancel()
        for task in [*self._tasks, *self._retries]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def check_capacity(self) -> None:
        """429 with Retry-After when the queue is full."""
        queued = self._store.count("queued")
        if queued >= self._max_queued:
            wait_s = max(1, round(self._store.mean_run_s() * queued / self._workers))
            raise TooManyRequests(
                f"the job queue is full ({queued} waiting); try again in about {wait_s} s",
                headers={"Retry-After": str(wait_s)},
            )

    def submit(self, request: JobRequest, owner: str, kind: JobKind = "generate") -> Job:
        self.check_capacity()
        job = self._store.create(request, owner, kind)
        self._queue.put_nowait(job.id)
        return job

    def _retry_later(self, job_id: str, delay_s: float, wait_ready_s: float = 0.0) -> None:
        async def later() -> None:
            await asyncio.sleep(delay_s)
            if wait_ready_s > 0 and self._wait_ready is not None:
                await self._wait_ready(wait_ready_s)  # back as soon as the gpu_service answers, or at the deadline
            self._queue.put_nowait(job_id)

        task = asyncio.get_running_loop().create_task(later(), name=f"retry-{job_id}")
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _worker(self) -> None:
        """Serves jobs until cancelled; no error of one job (or of the database) ends it."""
        delay = STORAGE_RETRY_S
        while True:
            job_id = await self._queue.get()
            self._running_since[job_id] = time.monotonic()
            try:
                await self._run(job_id)
                self._storage_fault, delay = None, STORAGE_RETRY_S
            except StorageUnavailable as exc:
                # Disk full or database unwritable: the job is not at fault. Keep it, try again later.
                log.warning("job %s waits for storage: %s", job_id, exc.detail)
                self._storage_fault = exc.detail
                self._interrupted.add(job_id)
                with contextlib.suppress(StorageUnavailable):
                    self._store.requeue(job_id, f"waiting for storage: {exc.detail}", count_attempt=False)
                self._retry_later(job_id, delay)
                delay = min(delay * 2, STORAGE_RETRY_MAX_S)
            except Exception:
                log.exception("job %s: unexpected error in the job runner; the worker goes on", job_id)
            finally:
                self._running_since.pop(job_id, None)
                self._queue.task_done()

    async def _run(self, job_id: str) -> None:
        token = REQUEST_ID.set(f"job-{job_id}")  # in the logs, and what keeps a job's gpu_service calls together
        try:
            await self._run_job(job_id)
        finally:
            REQUEST_ID.reset(token)

    async def _run_job(self, job_id: str) -> None:
        owner = self._store.owner_of(job_id)
        job = self._store.get(job_id, owner)
        if job.status != "queued" and job_id not in self._interrupted:
            return
        self._interrupted.discard(job_id)
        self._store.start(job_id)

        async def on_stage(stage: str) -> None:
            self._store.set_stage(job_id, stage)

        try:
            result = await self._work(job.request, on_stage, owner)
        except StorageUnavailable:
            raise  # the worker keeps the job for when space is back
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                log.exception("job %s failed", job_id)
                self._store.fail(job_id, f"internal error: {type(exc).__name__}: {exc}")
                return
            raise StorageUnavailable(f"cannot store the video: {exc.strerror} (RUNTIME_DATA_DIR)") from exc
        except Misconfigured as exc:
            self._failing_since.pop(job_id, None)
            self._store.fail(job_id, exc.detail)  # no retry can mend a configuration
        except (ServiceUnavailable, BadGateway) as exc:
            # Transient (the gpu_service is down, restarting or failed): wait for it, up to the deadline.
            now = time.monotonic()
            since = self._failing_since.setdefault(job_id, now)
            left = self._retry_deadline_s - (now - since)
            if left <= 0:
                self._failing_since.pop(job_id, None)
                self._store.fail(
                    job_id, f"gave up after {now - since:.0f} s (RUNTIME_GPU_RETRY_DEADLINE_S): {exc.detail}"
                )
                return
            log.warning("job %s: %s; waiting up to %.0f s for the gpu_service", job_id, exc.detail, left)
            self._store.requeue(job_id, f"waiting for the gpu_service: {exc.detail}", count_attempt=False)
            self._retry_later(job_id, RETRY_DELAY_S, wait_ready_s=left)
        except ServiceError as exc:
            self._store.fail(job_id, exc.detail)
        except asyncio.CancelledError:
            raise  # shutting down: the job stays 'running' and is queued again on the next start
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._store.fail(job_id, f"internal error: {type(exc).__name__}: {exc}")
        else:
            self._failing_since.pop(job_id, None)
            self._store.finish(job_id, result)
