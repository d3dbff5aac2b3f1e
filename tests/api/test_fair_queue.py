"""Issue 19, M2: one client cannot lock others out of the queue. The review: three jobs from one
client filled a server with one worker and two waiting places, and the fourth user got 503."""

import contextvars
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.errors import Busy
from app.jobs.queue import JOB_CLIENT, JobQueue, JobStatus
from app.params import Progress
from tests.api.helpers import upload, wait_job
from tests.jobs.test_queue import Gate, wait_for


def submit_as(client: str, queue: JobQueue, key: str, work: Gate):  # type: ignore[no-untyped-def]
    context = contextvars.copy_context()
    context.run(JOB_CLIENT.set, client)
    return context.run(queue.submit, "test", key, {}, work)[0]


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    jobs = JobQueue(workers=1, max_queued=2, kept=64)
    yield jobs
    jobs.shutdown()


def test_a_client_that_filled_the_queue_leaves_room_for_others(queue: JobQueue) -> None:
    gates = [Gate(steps=1) for _ in range(6)]
    mine = [submit_as("alice", queue, f"a{i}", gates[i]) for i in range(3)]
    with pytest.raises(Busy, match="3 of them yours"):
        submit_as("alice", queue, "a3", gates[3])
    bob = submit_as("bob", queue, "b0", gates[4])  # a newcomer's share of a full queue
    with pytest.raises(Busy):
        submit_as("bob", queue, "b1", gates[5])  # but only one place beyond the queue
    assert gates[0].started.wait(5)
    gates[0].open()  # alice's first job ends: bob's job runs next, before alice's waiting two
    assert gates[4].started.wait(5)
    assert mine[1].status == JobStatus.QUEUED and mine[2].status == JobStatus.QUEUED
    for gate in (gates[4], gates[1], gates[2]):
        gate.open()
    for job in (*mine, bob):
        wait_for(lambda job=job: job.status.terminal)
        assert job.status == JobStatus.DONE


def test_waiting_jobs_take_turns_between_clients() -> None:
    jobs = JobQueue(workers=1, max_queued=10, kept=64)
    order: list[str] = []
    blocker = threading.Event()

    def work(name: str):  # type: ignore[no-untyped-def]
        def run(progress: Progress) -> str:
            if name == "first":
                blocker.wait(5)
            order.append(name)
            return name

        return run

    try:
        submit_as("alice", jobs, "first", work("first"))  # type: ignore[arg-type]
        for i in range(3):
            submit_as("alice", jobs, f"a{i}", work(f"a{i}"))  # type: ignore[arg-type]
        for i in range(2):
            submit_as("bob", jobs, f"b{i}", work(f"b{i}"))  # type: ignore[arg-type]
        blocker.set()
        wait_for(lambda: len(order) == 6)
        assert order == ["first", "b0", "a0", "b1", "a1", "a2"]  # round robin, not FIFO
    finally:
        jobs.shutdown()


def test_over_http_another_address_still_gets_a_job_accepted(client: TestClient, gated) -> None:
    image = upload(client)

    def start(http: TestClient, steps: int):  # type: ignore[no-untyped-def]
        body = {"image_id": image["id"], "method": "gated", "params": {"steps": steps}}
        return http.post("/api/explanations", json=body)

    accepted = [start(client, steps) for steps in (5, 6, 7)]  # one worker, two places
    assert [r.status_code for r in accepted] == [201, 201, 201]
    assert start(client, 8).status_code == 503
    other = TestClient(client.app, client=("192.0.2.7", 40000))
    second = start(other, 9)
    assert second.status_code == 201, second.text
    gated.gate.release(5 + 6 + 7 + 9)
    for response in (*accepted, second):
        assert wait_job(client, response.json()["id"])["status"] == "done"
