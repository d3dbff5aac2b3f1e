"""Overload, as Triton's tests check it: fill the workers and the queue, send N more at once;
exactly the excess is refused (503 + Retry-After, without waiting), and every accepted job
reaches a terminal state."""

from concurrent.futures import ThreadPoolExecutor

from tests.api.helpers import upload, wait_job

EXCESS = 12


def test_exactly_the_excess_is_refused_and_no_accepted_job_is_lost(client, gated) -> None:
    image = upload(client)
    settings = client.app.state.workspace.settings
    capacity = settings.job_workers + settings.max_queued_jobs

    def start(steps: int):
        body = {"image_id": image["id"], "method": "gated", "params": {"steps": steps}}
        return client.post("/api/explanations", json=body)

    # The gate is closed: nothing finishes while the requests arrive, so exactly `capacity`
    # fit. Distinct parameters: no request is a cache hit of another.
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(start, range(1, capacity + EXCESS + 1), timeout=60))
    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 503]
    assert len(accepted) == capacity and len(refused) == EXCESS
    assert all(r.headers["retry-after"] == "5" and "busy" in r.json()["detail"] for r in refused)
    assert client.get("/healthz").status_code == 200  # still serving while full

    gated.gate.release(sum(range(1, capacity + EXCESS + 1)))
    ends = [wait_job(client, r.json()["id"])["status"] for r in accepted]
    assert ends == ["done"] * capacity  # none lost, none left running
    again = start(capacity + EXCESS + 1)
    assert again.status_code == 201  # the workers are free again
    gated.gate.release(capacity + EXCESS + 1)
    assert wait_job(client, again.json()["id"])["status"] == "done"
