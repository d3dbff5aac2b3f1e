"""Issue 19, M2: cancel and deadline stop a job within 2 s even inside long native work. The
review's KernelSHAP job took 14.6 s to stop: one forward pass of a large batch. Forward passes
are now split so that none runs longer than about STEP_SECONDS between progress calls."""

import time

import pytest
import torch

from app.explain import explain
from app.explain._batching import STEP_SECONDS
from app.jobs.queue import JobQueue, JobStatus
from app.params import Progress
from app.zoo import LoadedModel
from tests.jobs.test_queue import wait_for
from tests.models import TinyNet, tiny_pixels, tiny_spec

PER_IMAGE_SECONDS = 0.25  # the ~30 distinct coalitions of a 32 px image: 7.5 s in one pass


class SlowNet(TinyNet):
    """TinyNet whose forward pass costs time in proportion to the batch, in native code's
    manner: nothing can interrupt it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(PER_IMAGE_SECONDS * x.shape[0])
        return super().forward(x)


# One batch of each: forward passes (KernelSHAP) and backward passes (the path methods).
BIG_BATCHES = {
    "kernel_shap": {"samples": 1024, "batch_size": 1024, "superpixels": 16},
    "integrated_gradients": {"steps": 200, "batch_size": 200},
    "gradient_shap": {"samples": 200, "batch_size": 200},
}


def _work(model: LoadedModel, method: str):  # type: ignore[no-untyped-def]
    def work(progress: Progress) -> object:
        return explain(model, tiny_pixels(), method, 0, BIG_BATCHES[method], progress)

    return work


@pytest.mark.parametrize("method", list(BIG_BATCHES))
@pytest.mark.parametrize("stop", ["cancel", "deadline"])
def test_a_big_batch_job_stops_within_2_s(stop: str, method: str) -> None:
    model = LoadedModel.from_network(tiny_spec(), SlowNet())
    queue = JobQueue(workers=1, max_queued=1, kept=8, timeout=1.0 if stop == "deadline" else None)
    try:
        job, _ = queue.submit("explanation", "slow", {}, _work(model, method))
        wait_for(lambda: job.status == JobStatus.RUNNING)
        if stop == "cancel":
            time.sleep(1.5)  # well inside the first batch (over 50 s in one pass)
            queue.cancel(job.id)
            due = time.time()
        else:
            due = (job.started or 0.0) + 1.0
        wait_for(lambda: job.status.terminal, timeout=30)
        took = (job.finished or 0.0) - due
        assert job.status == (JobStatus.CANCELLED if stop == "cancel" else JobStatus.TIMEOUT)
        assert took < 2.0, f"the job took {took:.1f} s to stop"
        print(f"{stop}: stopped {took:.2f} s after it was due (STEP_SECONDS = {STEP_SECONDS})")
    finally:
        queue.shutdown()
