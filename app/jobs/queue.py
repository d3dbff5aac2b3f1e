"""A bounded job queue: a fixed pool of worker threads, progress from the work's own loop,
cancellation at its next progress call, and finished jobs kept (bounded) for reuse as a cache."""

import enum
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from app.errors import Busy, Cancelled, LanternError, UnknownJob
from app.explain.base import Progress

__all__ = ["Job", "JobQueue", "JobStatus", "Work"]

log = logging.getLogger(__name__)

Work = Callable[[Progress], Any]
"""work(progress) -> result; calls progress(done, total) from its loop."""


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


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
    """At most `workers` jobs run at once and `max_queued` wait; one more is refused (Busy)."""

    def __init__(self, workers: int, max_queued: int, kept: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lantern-job")
        self._max_queued = max_queued
        self._workers = workers
        self._kept = kept
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._by_key: dict[str, str] = {}
        self._futures: dict[str, Future[None]] = {}

    def submit(self, kind: str, key: str, request: dict[str, Any], work: Work) -> tuple[Job, bool]:
        """(job, True) for a new job; (the live or finished job with this key, False): a hit."""
        with self._lock:
            existing = self._jobs.get(self._by_key.get(key, ""))
            if existing is not None and existing.status not in (
                JobStatus.FAILED,
                JobStatus.CANCELLED,
            ):
                self._jobs.move_to_end(existing.id)
                return existing, False
            active = sum(not job.status.terminal for job in self._jobs.values())
            if active >= self._workers + self._max_queued:
                raise Busy(
                    f"the server is busy ({active} jobs running or waiting); "
                    "try again in a few seconds"
                )
            job = Job(id=uuid.uuid4().hex, kind=kind, key=key, request=request)
            self._jobs[job.id] = job
            self._by_key[key] = job.id
            self._futures[job.id] = self._executor.submit(self._run, job, work)
            self._forget_old()
            return job, True

    def finished(self, key: str) -> Job | None:
        """The job with this key if it is done, else None."""
        with self._lock:
            job = self._jobs.get(self._by_key.get(key, ""))
        return job if job is not None and job.status == JobStatus.DONE else None

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id!r}: it never existed or was dropped from the cache")
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.cancel_requested.set()
        with self._lock:
            future = self._futures.get(job_id)
            if future is not None and future.cancel():  # still waiting: it never starts
                self._cancelled(job)
        return job

    def shutdown(self) -> None:
        """Cancel waiting and running jobs, and wait for the workers to stop."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if not job.status.terminal:
                self.cancel(job.id)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, work: Work) -> None:
        if job.cancel_requested.is_set():
            self._cancelled(job)
            return
        job.status = JobStatus.RUNNING
        job.started = time.time()

        def progress(done: int, total: int) -> None:
            if job.cancel_requested.is_set():
                raise Cancelled("cancelled")
            job.progress = min(1.0, max(0.0, done / total)) if total > 0 else 0.0

        try:
            result = work(progress)
        except Cancelled:
            self._cancelled(job)
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
        self._finish(job, JobStatus.CANCELLED, error="cancelled", status_code=409)

    def _finish(
        self, job: Job, status: JobStatus, error: str | None = None, status_code: int = 500
    ) -> None:
        job.error = error
        job.error_status = None if error is None else status_code
        job.finished = time.time()
        job.status = status
        self._futures.pop(job.id, None)

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond `kept` (called with the lock held)."""
        finished = [job for job in self._jobs.values() if job.status.terminal]
        for job in finished[: max(0, len(self._jobs) - self._kept)]:
            del self._jobs[job.id]
            if self._by_key.get(job.key) == job.id:
                del self._by_key[job.key]
