"""Jobs and images outlive the process: SQLite, a pickle-free codec, restarts, deadlines, drain."""

import io
import json
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from app.errors import Busy, UnknownImage, UnknownJob
from app.explain import explain
from app.jobs.codec import decode_result, encode_result
from app.jobs.images import ImageStore
from app.jobs.queue import JobQueue, JobStatus
from app.jobs.store import RESTART_MESSAGE, Database
from app.trust import faithfulness, randomization_test
from app.workspace import AttackOutcome
from tests.jobs.test_queue import Gate, finished, wait_for


def _equal(a: object, b: object) -> None:
    """Deep equality of results, arrays compared exactly."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif hasattr(a, "__dataclass_fields__"):
        assert type(a) is type(b)
        for name in a.__dataclass_fields__:
            _equal(getattr(a, name), getattr(b, name))
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _equal(x, y)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            _equal(a[key], b[key])
    else:
        assert a == b


def test_every_result_type_round_trips_exactly(tiny, pixels) -> None:
    from app.attacks import attack

    images = ImageStore(kept=8)
    explanation = explain(tiny, pixels, "integrated_gradients", params={"steps": 4})
    result = attack(tiny, pixels, "fgsm", params={"epsilon": 0.03})
    outcome = AttackOutcome(result, images.add_pixels(result.adversarial, "adv"))
    sanity = randomization_test(tiny, pixels, "saliency", steps=2)
    faithful = faithfulness(tiny, pixels, "saliency", steps=4)
    for value in (explanation, outcome, sanity, faithful):
        restored = decode_result(encode_result(value), images.get)
        _equal(value, restored)
    assert isinstance(explanation.warnings, tuple)


def test_the_codec_refuses_unregistered_types_both_ways() -> None:
    class Unknown:
        pass

    with pytest.raises(TypeError, match="cannot store"):
        encode_result({"x": Unknown()})
    buffer = io.BytesIO()
    meta = json.dumps({"__type__": "os.system", "fields": {"command": "touch /tmp/pwned"}})
    np.savez(buffer, __meta__=np.str_(meta))
    with pytest.raises(ValueError, match="unknown result type"):
        decode_result(buffer.getvalue(), lambda _: pytest.fail("no image is asked for"))
    # An object array would need pickle: NumPy refuses it with allow_pickle=False.
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.str_("{}"), a0=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        decode_result(buffer.getvalue(), lambda _: pytest.fail("no image is asked for"))


def _queue(database: Database, workers: int = 1, **options) -> JobQueue:
    return JobQueue(
        workers,
        max_queued=4,
        kept=16,
        database=database,
        encode=encode_result,
        decode=lambda data: decode_result(data, ImageStore(8).get),
        **options,
    )


def test_a_restart_keeps_finished_results_and_fails_cut_off_jobs(tmp_path, tiny, pixels) -> None:
    path = tmp_path / "lantern.sqlite3"
    explanation = explain(tiny, pixels, "saliency")
    first = _queue(Database(path))
    done, _ = first.submit("explanation", "k-done", {"n": 1}, lambda progress: explanation)
    wait_for(finished(done))
    failed, _ = first.submit("explanation", "k-fail", {}, lambda progress: 1 / 0)
    wait_for(finished(failed))
    running_gate, waiting_gate = Gate(), Gate()
    running, _ = first.submit("explanation", "k-running", {}, running_gate)
    waiting, _ = first.submit("explanation", "k-waiting", {}, waiting_gate)
    running_gate.started.wait(5)
    # The process dies here: no shutdown, no drain. A new process opens the same file.
    second = _queue(Database(path))
    restored = second.get(done.id)
    assert restored.status == JobStatus.DONE and restored.request == {"n": 1}
    _equal(explanation, restored.result)
    again, new = second.submit("explanation", "k-done", {"n": 1}, lambda p: pytest.fail("cached"))
    assert not new and again.id == done.id
    assert second.get(failed.id).status == JobStatus.FAILED
    for cut_off in (running, waiting):
        job = second.get(cut_off.id)
        assert job.status == JobStatus.FAILED and job.error == RESTART_MESSAGE
    assert second.active() == 0
    running_gate.open(10)
    first.shutdown()
    second.shutdown()


def test_a_cache_hit_after_a_restart_comes_with_its_result(tmp_path, tiny, pixels) -> None:
    path = tmp_path / "lantern.sqlite3"
    explanation = explain(tiny, pixels, "saliency")
    first = _queue(Database(path))
    done, _ = first.submit("explanation", "k", {}, lambda progress: explanation)
    wait_for(finished(done))
    first.shutdown()
    second = _queue(Database(path))  # nothing read back yet: the identical request comes first
    again, new = second.submit("explanation", "k", {}, lambda p: pytest.fail("cached"))
    assert not new and again.id == done.id
    _equal(explanation, again.result)
    with Database(path)._cursor() as cursor:
        cursor.execute("UPDATE jobs SET result = ?", (b"not an npz",))
    third = _queue(Database(path))
    rerun, new = third.submit("explanation", "k", {}, lambda progress: "again")
    assert new and rerun.id != done.id  # an unreadable result is run again, not served empty
    wait_for(finished(rerun))
    assert rerun.result == "again"
    second.shutdown()
    third.shutdown()


def test_a_corrupt_stored_result_is_gone_not_a_crash(tmp_path, tiny, pixels) -> None:
    path = tmp_path / "lantern.sqlite3"
    first = _queue(Database(path))
    job, _ = first.submit(
        "explanation", "k", {}, lambda progress: explain(tiny, pixels, "saliency")
    )
    wait_for(finished(job))
    first.shutdown()
    database = Database(path)
    with database._cursor() as cursor:
        cursor.execute("UPDATE jobs SET result = ?", (b"not an npz",))
    second = _queue(database)
    with pytest.raises(UnknownJob, match="start the job again"):
        second.get(job.id)
    rerun, new = second.submit("explanation", "k", {}, lambda progress: "again")
    assert new
    wait_for(finished(rerun))
    second.shutdown()


def test_a_job_past_its_deadline_times_out_and_frees_the_worker(tmp_path) -> None:
    queue = JobQueue(workers=1, max_queued=2, kept=16, timeout=0.05)
    slow = Gate(steps=100)
    job, _ = queue.submit("test", "slow", {}, slow)
    slow.started.wait(5)
    time.sleep(0.1)
    slow.open(2)
    wait_for(finished(job))
    assert job.status == JobStatus.TIMEOUT and "deadline of 0.05 s" in (job.error or "")
    assert job.error_status == 504
    quick, _ = queue.submit("test", "quick", {}, lambda progress: "ok")
    wait_for(finished(quick))
    assert quick.status == JobStatus.DONE
    queue.shutdown()


def test_out_of_memory_fails_one_job_and_the_next_succeeds() -> None:
    queue = JobQueue(workers=1, max_queued=2, kept=16)

    def explode(progress):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    doomed, _ = queue.submit("test", "oom", {}, explode)
    wait_for(finished(doomed))
    assert doomed.status == JobStatus.FAILED and "out of memory" in (doomed.error or "")
    after, _ = queue.submit("test", "after", {}, lambda progress: "ok")
    wait_for(finished(after))
    assert after.status == JobStatus.DONE and after.result == "ok"
    queue.shutdown()


def test_drain_refuses_new_jobs_and_fails_what_outlives_the_grace(tmp_path) -> None:
    path = tmp_path / "lantern.sqlite3"
    queue = _queue(Database(path), workers=2)
    quick, stuck = Gate(steps=1), Gate(steps=100)
    finishing, _ = queue.submit("test", "quick", {}, quick)
    hanging, _ = queue.submit("test", "stuck", {}, stuck)
    quick.started.wait(5)
    stuck.started.wait(5)
    result: dict[str, tuple[int, int]] = {}
    drainer = threading.Thread(target=lambda: result.update(counts=queue.drain(0.5)))
    drainer.start()
    wait_for(lambda: not queue.accepting)
    with pytest.raises(Busy, match="shutting down"):
        queue.submit("test", "late", {}, lambda progress: "never")
    quick.open()  # finishes within the grace
    stuck.open()  # one more step, and then it waits past the grace
    drainer.join(10)
    assert result["counts"] == (1, 1)
    stuck.open(100)
    wait_for(finished(hanging))
    assert finishing.status == JobStatus.DONE
    assert hanging.status == JobStatus.FAILED and "shut down" in (hanging.error or "")
    reopened = _queue(Database(path))
    assert reopened.get(hanging.id).status == JobStatus.FAILED
    queue.shutdown()
    reopened.shutdown()


def test_images_outlive_a_restart_and_stay_bounded(tmp_path) -> None:
    database = Database(tmp_path / "lantern.sqlite3")

    def reload(kind, content):
        return Image.open(io.BytesIO(content)).convert("RGB")

    store = ImageStore(kept=4, database=database, reload=reload)
    ids = []
    for shade in range(6):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (shade * 40, 0, 0)).save(buffer, format="PNG")
        ids.append(store.add(Image.open(buffer), f"../../etc/passwd{shade}", buffer.getvalue()).id)
    exact = np.random.default_rng(0).random((3, 8, 8), dtype=np.float32)
    adversarial = store.add_pixels(exact, "adversarial").id
    later = ImageStore(kept=4, database=Database(tmp_path / "lantern.sqlite3"), reload=reload)
    assert later.get(ids[-1]).image.getpixel((0, 0)) == (200, 0, 0)
    assert later.get(ids[-1]).name == "../../etc/passwd5"  # a label, never a path
    np.testing.assert_array_equal(later.get(adversarial).pixels, exact)
    with pytest.raises(UnknownImage):
        later.get(ids[0])  # beyond `kept`: dropped from the database too
    assert not any(path.name.startswith("..") for path in tmp_path.rglob("*"))


def test_jobs_beyond_kept_are_deleted_from_the_database_at_start(tmp_path) -> None:
    path = tmp_path / "lantern.sqlite3"
    first = JobQueue(1, max_queued=4, kept=64, database=Database(path))
    jobs = []
    for index in range(20):
        job, _ = first.submit("test", f"k{index}", {}, lambda progress: None)
        wait_for(finished(job))
        jobs.append(job)
    first.shutdown()
    second = JobQueue(1, max_queued=4, kept=16, database=Database(path))
    with Database(path)._cursor() as cursor:
        assert cursor.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 16
    with pytest.raises(UnknownJob):
        second.get(jobs[0].id)
    second.shutdown()
