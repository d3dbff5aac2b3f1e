"""The job queue: progress and ETA from the work's loop, cancellation, bounds, reuse."""

import threading
import time
from collections.abc import Callable

import pytest

from app.errors import BadParameter, Busy, UnknownJob
from app.jobs.queue import Job, JobQueue, JobStatus
from app.params import Progress


class Gate:
    """Work that reports `steps` steps and waits for the test before each one."""

    def __init__(self, steps: int = 4) -> None:
        self.steps = steps
        self.step = threading.Semaphore(0)
        self.started = threading.Event()

    def __call__(self, progress: Progress) -> str:
        self.started.set()
        for done in range(self.steps):
            progress(done, self.steps)
            assert self.step.acquire(timeout=10), "the test never opened the gate"
        progress(self.steps, self.steps)
        return "result"

    def open(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.step.release()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def finished(job: Job) -> Callable[[], bool]:
    return lambda: job.status.terminal


@pytest.fixture
def queue():
    jobs = JobQueue(workers=1, max_queued=1, kept=16)
    yield jobs
    jobs.shutdown()


def test_progress_eta_and_result(queue: JobQueue) -> None:
    gate = Gate(steps=4)
    job, new = queue.submit("test", "a", {}, gate)
    assert new
    assert gate.started.wait(5)
    gate.open(2)
    wait_for(lambda: job.progress >= 0.5)
    assert job.status == JobStatus.RUNNING
    eta = job.eta_seconds()
    assert eta is not None and eta >= 0.0
    gate.open(2)
    wait_for(finished(job))
    assert job.status == JobStatus.DONE and job.result == "result" and job.progress == 1.0
    assert job.eta_seconds() is None and job.error is None


def test_the_same_key_reuses_the_job(queue: JobQueue) -> None:
    gate = Gate(steps=1)
    first, _ = queue.submit("test", "key", {}, gate)
    gate.open()
    wait_for(finished(first))
    calls = []
    second, new = queue.submit("test", "key", {}, lambda progress: calls.append(1))
    assert second is first and not new and calls == []


def test_cancel_stops_a_running_job_and_frees_the_worker(queue: JobQueue) -> None:
    gate = Gate(steps=100)
    job, _ = queue.submit("test", "slow", {}, gate)
    assert gate.started.wait(5)
    gate.open(3)
    wait_for(lambda: job.progress > 0)
    queue.cancel(job.id)
    gate.open(2)
    wait_for(finished(job))
    assert job.status == JobStatus.CANCELLED and job.progress < 1.0
    # Cancelled jobs are not reused, and the worker takes the next job.
    again, new = queue.submit("test", "slow", {}, lambda progress: "quick")
    assert new and again is not job
    wait_for(finished(again))
    assert again.status == JobStatus.DONE


def test_cancel_a_waiting_job_never_runs_it(queue: JobQueue) -> None:
    gate = Gate(steps=1)
    running, _ = queue.submit("test", "first", {}, gate)
    assert gate.started.wait(5)
    ran = []
    waiting, _ = queue.submit("test", "second", {}, lambda progress: ran.append(1))
    queue.cancel(waiting.id)
    assert waiting.status == JobStatus.CANCELLED
    gate.open()
    wait_for(finished(running))
    # The one worker takes jobs in order: once a later job has run, it has passed the cancelled
    # one, which had its only chance to run (wrongly) before it.
    later, _ = queue.submit("test", "third", {}, lambda progress: "later")
    wait_for(finished(later))
    assert later.status == JobStatus.DONE
    assert waiting.status == JobStatus.CANCELLED and ran == []


def test_a_full_queue_refuses_at_once(queue: JobQueue) -> None:
    gate = Gate(steps=1)
    queue.submit("test", "running", {}, gate)
    assert gate.started.wait(5)
    queue.submit("test", "waiting", {}, lambda progress: None)
    started = time.monotonic()
    with pytest.raises(Busy, match="busy"):
        queue.submit("test", "one too many", {}, lambda progress: None)
    assert time.monotonic() - started < 1.0
    gate.open()


def test_errors_end_the_job_with_a_message(queue: JobQueue) -> None:
    def bad_input(progress: Progress) -> None:
        raise BadParameter("window: too large")

    def bug(progress: Progress) -> None:
        raise ZeroDivisionError("secret detail")

    user, _ = queue.submit("test", "user", {}, bad_input)
    wait_for(finished(user))
    assert user.status == JobStatus.FAILED
    assert user.error == "window: too large" and user.error_status == 422
    internal, _ = queue.submit("test", "bug", {}, bug)
    wait_for(finished(internal))
    assert internal.error == "internal error: ZeroDivisionError" and internal.error_status == 500
    # A failed job is not a cache entry: the same request runs again.
    retry, new = queue.submit("test", "user", {}, lambda progress: "ok")
    assert new and retry is not user


def test_old_finished_jobs_are_forgotten() -> None:
    jobs = JobQueue(workers=1, max_queued=100, kept=16)
    try:
        first, _ = jobs.submit("test", "k0", {}, lambda progress: 0)
        wait_for(finished(first))
        for index in range(1, 20):
            job, _ = jobs.submit("test", f"k{index}", {}, lambda progress: 0)
            wait_for(finished(job))
        with pytest.raises(UnknownJob):
            jobs.get(first.id)
        assert jobs.get(job.id) is job
    finally:
        jobs.shutdown()


def test_background_jobs_wait_for_foreground_ones() -> None:
    """A scorecard's checks (background) never hold up the next image's maps: with the worker
    busy, a map submitted after a check still runs first."""
    queue = JobQueue(workers=1, max_queued=2, kept=16)
    busy = Gate(steps=1)
    queue.submit("explanation", "busy", {}, busy)
    assert busy.started.wait(timeout=10)
    order: list[str] = []
    check, _ = queue.submit("sanity", "check", {}, lambda p: order.append("check"), background=True)
    late, _ = queue.submit("explanation", "map", {}, lambda p: order.append("map"))
    busy.open()
    wait_for(finished(check))
    wait_for(finished(late))
    queue.shutdown()
    assert order == ["map", "check"]
