"""Jobs share one loaded model. A method's hooks and activation rules must not reach the forward
passes other threads run at the same time."""

import threading

import numpy as np

from app.explain import explain
from app.imaging import sample_image


def test_concurrent_methods_match_serial_results(default_model) -> None:
    view = default_model.preprocessing.model_view
    photos = [view(sample_image(name)) for name in ("chelsea", "coffee")]
    jobs = [(x, method) for x in photos for method in ("grad_cam", "guided_backprop", "saliency")]
    serial = [explain(default_model, x, method).attribution for x, method in jobs]
    results: dict[int, list[np.ndarray]] = {index: [] for index in range(len(jobs))}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        x, method = jobs[index]
        try:
            for _ in range(2):
                results[index].append(explain(default_model, x, method).attribution)
        except BaseException as error:  # collected and re-raised below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for index, expected in enumerate(serial):
        for attribution in results[index]:
            np.testing.assert_allclose(attribution, expected, rtol=1e-4, atol=1e-6)
