"""A bounded job queue: a fixed pool of worker threads, progress from the work's own loop,
cancellation and deadlines at its next progress call, finished jobs kept (bounded) for reuse as a
cache, and (with a database) every job written down, so a restart loses no finished result.

Fair to its clients (issue 19, M2): a free worker takes the waiting job of the client with the
fewest jobs running, round robin among equals, and a client with no job waiting or running is
accepted even when the queue is full (up to twice its size), so one client filling the queue
delays others but never locks them out. The client is `JOB_CLIENT`, set per request."""

import enum
import logging
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from app.errors import Busy, Cancelled, JobTimeout, LanternError, UnknownJob
from app.jobs.store import Database, JobRow
from app.params import Progress

__all__ = ["JOB_CLIENT", "Job", "JobQueue", "JobStatus", "Work"]

JOB_CLIENT: ContextVar[str] = ContextVar("lantern_job_client", default="local")
"""Who submits: the client address, set by app.api.guard.JobClient for each request."""

log = logging.getLogger(__name__)

Work = Callable[[Progress], Any]
"""work(progress) -> result; calls progress(done, total) from its loop."""


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass
class Job:
    id: str
    kind: str
    key: str
    request: dict[str, Any]
    status: JobStatus = JobStatus.QUEUED
    progress: float = 0.0
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: str | None = None
    error_status: int | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None  # set when the server, not the user, stops the job
    stored: bool = False  # its result is in the database, not yet read back
    client: str = "local"  # who submitted it (fair share)

    def row(self) -> JobRow:
        return JobRow(
            self.id,
            self.kind,
            self.key,
            self.request,
            str(self.status),
            self.progress,
            self.created,
            self.started,
            self.finished,
            self.error,
            self.error_status,
        )

    def eta_seconds(self) -> float | None:
        """Remaining seconds, extrapolated from the time the finished part took."""
        if self.status != JobStatus.RUNNING or self.started is None or self.progress <= 0:
            return None
        elapsed = time.time() - self.started
        return max(0.0, elapsed * (1.0 - self.progress) / self.progress)

    def elapsed_seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


class JobQueue:
    """At most `workers` jobs run at once and `max_queued` wait; one more is refused (Busy).

    A running job that passes `timeout` seconds ends as `timeout` at its next progress call. With
    a `database`, jobs are written down (results through `encode`, read back with `decode`) and
    the jobs an earlier process left unfinished are marked failed at construction.
    """

    def __init__(
        self,
        workers: int,
        max_queued: int,
        kept: int,
        timeout: float | None = None,
        database: Database | None = None,
        encode: Callable[[Any], bytes] | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lantern-job")
        self._max_queued = max_queued
        self._workers = workers
        self._kept = kept
        self._timeout = timeout
        self._database = database
        self._encode = encode
        self._decode = decode
        self._accepting = True
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._by_key: dict[str, str] = {}
        self._waiting: list[tuple[Job, Work, bool]] = []  # (job, work, background), by _turn
        self._running: Counter[str] = Counter()  # jobs running per client
        self._last_start: dict[str, float] = {}  # when each client's last job started
        if database is not None:
            interrupted = database.fail_unfinished()
            if interrupted:
                log.warning("%d jobs were cut off by the last shutdown: marked failed", interrupted)
            for row in database.recent_jobs(kept):
                job = Job(**{**vars(row), "status": JobStatus(row.status)}, stored=True)
                self._jobs[job.id] = job
                if job.status == JobStatus.DONE:
                    self._by_key[job.key] = job.id

    @property
    def accepting(self) -> bool:
        return self._accepting

    def submit(
        self,
        kind: str,
        key: str,
        request: dict[str, Any],
        work: Work,
        background: bool = False,
    ) -> tuple[Job, bool]:
        """(job, True) for a new job; (the live or finished job with this key, False): a hit.
        A `background` job (a scorecard's check) waits while any other job waits, so the
        user's next image is never held up by the checks of the last one."""
        with self._lock:
            existing = self._jobs.get(self._by_key.get(key, ""))
            live = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE)
            if existing is not None and existing.status in live:
                self._jobs.move_to_end(existing.id)
            else:
                existing = None
        if existing is not None:
            try:
                return self._with_result(existing), False  # read back after a restart
            except UnknownJob:
                pass  # its stored result is unreadable (and forgotten): run it again
        with self._lock:
            if not self._accepting:
                raise Busy("the server is shutting down and takes no new jobs")
            client = JOB_CLIENT.get()
            unfinished = [job for job in self._jobs.values() if not job.status.terminal]
            active, mine = len(unfinished), sum(job.client == client for job in unfinished)
            capacity = self._workers + self._max_queued
            newcomer = mine == 0 and active < 2 * capacity  # its share of a full queue
            if active >= capacity and not newcomer:
                raise Busy(
                    f"the server is busy ({active} jobs running or waiting, {mine} of them "
                    "yours); try again in a few seconds"
                )
            job = Job(id=uuid.uuid4().hex, kind=kind, key=key, request=request, client=client)
            self._jobs[job.id] = job
            self._by_key[key] = job.id
            self._save(job)
            self._waiting.append((job, work, background))
            self._executor.submit(self._next)
            self._forget_old()
            return job, True

    def finished(self, key: str) -> Job | None:
        """The job with this key if it is done, else None."""
        with self._lock:
            job = self._jobs.get(self._by_key.get(key, ""))
        if job is None or job.status != JobStatus.DONE:
            return None
        return self._with_result(job)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id!r}: it never existed or was dropped from the cache")
        return self._with_result(job)

    def _with_result(self, job: Job) -> Job:
        """A job read back from the database gets its result on first use."""
        if not job.stored:
            return job
        data = None if self._database is None else self._database.job_result(job.id)
        if job.status == JobStatus.DONE:
            try:
                job.result = None if data is None or self._decode is None else self._decode(data)
            except (LanternError, ValueError, KeyError, TypeError) as error:
                log.warning("the stored result of job %s cannot be read: %s", job.id, error)
                job.result = None
            if job.result is None:
                with self._lock:
                    self._jobs.pop(job.id, None)
                    if self._by_key.get(job.key) == job.id:
                        del self._by_key[job.key]
                raise UnknownJob(f"the result of job {job.id!r} is gone: start the job again")
        job.stored = False
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.cancel_requested.set()
        with self._lock:
            waiting = [entry for entry in self._waiting if entry[0].id == job_id]
            for entry in waiting:  # still waiting: it never starts
                self._waiting.remove(entry)
                self._cancelled(job)
        return job

    def active(self) -> int:
        """Jobs waiting or running."""
        with self._lock:
            return sum(not job.status.terminal for job in self._jobs.values())

    def drain(self, grace_seconds: float) -> tuple[int, int]:
        """Take no new jobs; let waiting and running ones finish for up to `grace_seconds`, then
        stop the rest as failed. Returns (finished in time, stopped)."""
        self._accepting = False
        before = self.active()
        deadline = time.monotonic() + grace_seconds
        while self.active() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            left = [job for job in self._jobs.values() if not job.status.terminal]
        for job in left:
            job.stop_reason = "the server shut down before this job finished; start it again"
            self.cancel(job.id)
        return before - len(left), len(left)

    def shutdown(self) -> None:
        """Stop waiting and running jobs, and wait for the workers to stop."""
        self.drain(0.0)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _next(self) -> None:
        """One worker turn: the fairest waiting job (`_turn`); one turn is submitted per job, so
        a cancelled job's turn finds nothing or runs another's."""
        with self._lock:
            if not self._waiting:
                return
            entry = min(self._waiting, key=self._turn)
            self._waiting.remove(entry)
            job, work, _ = entry
            self._running[job.client] += 1
            self._last_start[job.client] = time.monotonic()
            if len(self._last_start) > 10_000:  # forget clients long gone
                self._last_start = dict(
                    sorted(self._last_start.items(), key=lambda i: i[1])[-1000:]
                )
        try:
            self._run(job, work)
        finally:
            with self._lock:
                self._running[job.client] -= 1
                if self._running[job.client] <= 0:
                    del self._running[job.client]

    def _turn(self, entry: tuple[Job, Work, bool]) -> tuple[bool, int, float, float]:
        """Foreground before background; then round robin: fewest running, then the client
        whose last start is oldest, then age."""
        job, _, background = entry
        running = self._running[job.client]
        return background, running, self._last_start.get(job.client, 0.0), job.created

    def _run(self, job: Job, work: Work) -> None:
        if job.cancel_requested.is_set():
            self._cancelled(job)
            return
        job.status = JobStatus.RUNNING
        job.started = time.time()
        self._save(job)
        deadline = None if self._timeout is None else time.monotonic() + self._timeout

        def progress(done: int, total: int) -> None:
            if job.cancel_requested.is_set():
                raise Cancelled("cancelled")
            if deadline is not None and time.monotonic() > deadline:
                raise JobTimeout(
                    f"the job ran past its deadline of {self._timeout:g} s; "
                    "try cheaper parameters (fewer steps, samples or windows)"
                )
            job.progress = min(1.0, max(0.0, done / total)) if total > 0 else 0.0

        try:
            result = work(progress)
        except Cancelled:
            self._cancelled(job)
        except JobTimeout as error:
            self._finish(job, JobStatus.TIMEOUT, error=str(error), status_code=error.status_code)
        except LanternError as error:
            self._finish(job, JobStatus.FAILED, error=str(error), status_code=error.status_code)
        except (torch.OutOfMemoryError, MemoryError):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self._finish(job, JobStatus.FAILED, error="out of memory: try smaller batches")
        except Exception as error:
            log.exception("job %s (%s) failed", job.id, job.kind)
            self._finish(job, JobStatus.FAILED, error=f"internal error: {type(error).__name__}")
        else:
            job.result = result
            job.progress = 1.0
            self._finish(job, JobStatus.DONE)

    def _cancelled(self, job: Job) -> None:
        if job.stop_reason is not None:
            self._finish(job, JobStatus.FAILED, error=job.stop_reason, status_code=503)
        else:
            self._finish(job, JobStatus.CANCELLED, error="cancelled", status_code=409)

    def _finish(
        self, job: Job, status: JobStatus, error: str | None = None, status_code: int = 500
    ) -> None:
        job.error = error
        job.error_status = None if error is None else status_code
        job.finished = time.time()
        self._save(job, status, job.result if status == JobStatus.DONE else None)
        job.status = status  # last: a reader who sees a terminal status finds it all written

    def _save(self, job: Job, status: JobStatus | None = None, result: Any = None) -> None:
        if self._database is None:
            return
        data = None
        if result is not None and self._encode is not None:
            try:
                data = self._encode(result)
            except (TypeError, ValueError) as error:
                log.warning("job %s: its result cannot be stored (%s)", job.id, error)
        row = job.row() if status is None else replace(job.row(), status=str(status))
        self._database.save_job(row, data)

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond `kept` (called with the lock held)."""
        finished = [job for job in self._jobs.values() if job.status.terminal]
        dropped = finished[: max(0, len(self._jobs) - self._kept)]
        for job in dropped:
            del self._jobs[job.id]
            if self._by_key.get(job.key) == job.id:
                del self._by_key[job.key]
        if dropped and self._database is not None:
            self._database.forget_jobs([job.id for job in dropped])
