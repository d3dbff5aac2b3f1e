"""What the server does, as plain Python: images, predictions and jobs on shared models.

The HTTP layer (app/api) parses a request, calls one method here and shapes the answer; scripts
and tests can use a Workspace directly.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from app.attacks import ATTACKS, AttackResult, attack
from app.compress.data import (
    DatasetInfo,
    build_evaluation_set,
    dataset_images,
    read_dataset,
    store_dataset,
    stored_dataset,
    zip_sources,
)
from app.compress.runs import RunParams, check_run, default_evaluation_set, run_comparison
from app.errors import BadParameter, BadTarget, JobNotFinished, UnsupportedMethod
from app.explain import METHODS, Explanation, explain
from app.explain.engine import check_class
from app.imaging import decode_image, sample_image
from app.imaging.samples import EVALUATION_SAMPLES
from app.jobs.codec import decode_result, encode_result
from app.jobs.images import KEPT_PIXELS, ImageStore, StoredImage
from app.jobs.queue import Job, JobQueue, JobStatus
from app.jobs.store import Database
from app.memory import check_job_memory, evaluation_set_bytes, method_bytes
from app.params import Progress, parse_params
from app.results import result_type
from app.settings import Settings
from app.shapes import EXPERIMENTS, trained_fingerprint
from app.shapes.fewshot import FewShotClassifier, FewShotResult
from app.shapes.gallery import is_shapes_model, is_shapes_sample, shapes_image
from app.shapes.random_labels import MODEL_NAME as RANDOM_LABELS
from app.shapes.random_labels import reference_for
from app.trust import (
    FaithfulnessResult,
    RandomizationResult,
    Removal,
    data_randomization_test,
    faithfulness,
    randomization_test,
)
from app.trust.consensus import Consensus, consensus
from app.zoo import LoadedModel
from app.zoo.pool import ModelPool

__all__ = ["AttackOutcome", "Prediction", "Subject", "Workspace"]


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    probability: float


@dataclass(frozen=True)
class Subject:
    """What a job works on: one image, on one model, with one method or attack, for one class
    (None: the top class for an explanation, untargeted for an attack)."""

    image_id: str
    model: str | None
    method: str
    target: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@result_type
@dataclass(frozen=True)
class AttackOutcome:
    result: AttackResult
    adversarial: StoredImage  # stored, so it can be explained like any other image


class Workspace:
    def __init__(
        self, settings: Settings, models: ModelPool, images: ImageStore, jobs: JobQueue
    ) -> None:
        self.settings = settings
        self.models = models
        self.images = images
        self.jobs = jobs

    @classmethod
    def create(cls, settings: Settings, models: ModelPool) -> "Workspace":
        """A workspace whose images and jobs live in `settings.data_dir`/lantern.sqlite3."""
        database = Database(settings.data_dir / "lantern.sqlite3")
        limits = settings.max_image_bytes, settings.max_image_pixels

        def reload(kind: Literal["upload", "sample"], content: bytes) -> Image.Image:
            if kind == "sample":
                return _sample(content.decode().removeprefix("sample:"))
            return decode_image(content, *limits, keep_pixels=KEPT_PIXELS)

        images = ImageStore(settings.kept_images, database, reload)
        jobs = JobQueue(
            settings.job_workers,
            settings.max_queued_jobs,
            settings.kept_jobs,
            timeout=settings.job_timeout_seconds,
            database=database,
            encode=encode_result,
            decode=lambda data: decode_result(data, images.get),
        )
        return cls(settings, models, images, jobs)

    # Images

    def add_upload(self, content: bytes, filename: str) -> StoredImage:
        limits = self.settings.max_image_bytes, self.settings.max_image_pixels
        image = decode_image(content, *limits, keep_pixels=KEPT_PIXELS)
        return self.images.add(image, filename, content)

    def add_sample(self, name: str) -> StoredImage:
        return self.images.add(_sample(name), name, f"sample:{name}".encode(), kind="sample")

    def predictions(self, image_id: str, model_name: str | None, top: int) -> list[Prediction]:
        model = self.models.get(model_name)
        pixels = self.images.get(image_id).model_view(model).unsqueeze(0)
        probs = model.probabilities(pixels)[0].float().cpu().numpy()
        return _top(model, probs, top)

    # Jobs

    def start_explanation(self, subject: Subject) -> tuple[Job, bool]:
        """(job, is new). Bad input fails here, at once; the work itself is queued."""
        model, subject, parsed = self._explained(subject)
        method, target = subject.method, subject.target

        def work(image: StoredImage, progress: Progress) -> Explanation:
            return explain(model, image.model_view(model), method, target, parsed, progress)

        return self._start("explanation", model, subject, parsed, work)

    def start_attack(self, subject: Subject) -> tuple[Job, bool]:
        """(job, is new); the adversarial image is stored when the job ends."""
        model, method, target = self.models.get(subject.model), subject.method, subject.target
        attacker = ATTACKS.get(method)
        parsed = parse_params(attacker.Params, subject.params, method).model_dump(mode="json")
        if target is None and attacker.needs_target:
            raise BadTarget(f"the {method} attack needs a target class")

        def work(image: StoredImage, progress: Progress) -> AttackOutcome:
            result = attack(model, image.model_view(model), method, target, parsed, progress)
            name = f"{image.name} after {method} (ε = {parsed['epsilon']:.4g})"
            return AttackOutcome(result, self.images.add_pixels(result.adversarial, name))

        return self._start("attack", model, subject, parsed, work)

    def start_sanity(
        self, subject: Subject, mode: Literal["cascading", "independent"], steps: int, seed: int
    ) -> tuple[Job, bool]:
        """The model-randomisation test of one method's map, as a job."""
        model, subject, parsed = self._explained(subject)
        method, target = subject.method, subject.target
        settings: dict[str, Any] = {
            "method_params": parsed,
            "mode": mode,
            "steps": steps,
            "seed": seed,
        }
        # A Shapes student also gets the data randomisation test against the lab's bogus model.
        reference = reference_for(self.settings, model.name)
        if reference is not None:
            written = trained_fingerprint(self.settings, (RANDOM_LABELS,))[RANDOM_LABELS]
            settings["random_labels_model"] = [reference, written]

        def work(image: StoredImage, progress: Progress) -> RandomizationResult:
            pixels = image.model_view(model)
            result = randomization_test(
                model, pixels, method, target, parsed, mode, steps, seed, progress
            )
            if reference is None:
                return result
            other = self.models.get(reference)
            data = data_randomization_test(model, other, pixels, method, result.target, parsed)
            return replace(result, data_randomization=data)

        return self._start("sanity", model, subject, settings, work, background=True)

    def start_faithfulness(
        self,
        subject: Subject,
        steps: int,
        seed: int,
        deletion_baseline: Removal = "road",
        insertion_baseline: Removal = "road",
    ) -> tuple[Job, bool]:
        """Deletion and insertion curves of one method's map (and a random map's), as a job."""
        model, subject, parsed = self._explained(subject)
        method, target = subject.method, subject.target
        settings = {
            "method_params": parsed,
            "steps": steps,
            "seed": seed,
            "deletion_baseline": deletion_baseline,
            "insertion_baseline": insertion_baseline,
        }
        # The map itself is usually on screen already: reuse it instead of computing it again.
        shown = self.jobs.finished(_key("explanation", _request(model, subject, parsed)))

        def work(image: StoredImage, progress: Progress) -> FaithfulnessResult:
            pixels = image.model_view(model)
            return faithfulness(
                model,
                pixels,
                method,
                target,
                parsed,
                steps=steps,
                deletion_baseline=deletion_baseline,
                insertion_baseline=insertion_baseline,
                seed=seed,
                progress=progress,
                explanation=None if shown is None else shown.result,
            )

        return self._start("faithfulness", model, subject, settings, work, background=True)

    def start_lab(self, experiment: str, params: Mapping[str, Any]) -> tuple[Job, bool]:
        """A Shapes lab experiment (app/shapes/, one module each) as a job."""
        chosen = EXPERIMENTS.get(experiment)
        parsed = parse_params(chosen.Params, params, experiment)
        model = self.models.get(None)
        request = {
            "experiment": experiment,
            "params": parsed.model_dump(mode="json"),
            "model": model.name,
            "trained": trained_fingerprint(self.settings, chosen.needs),
        }

        def work(progress: Progress) -> Any:
            return chosen.run(self.settings, parsed, model, progress)

        return self.jobs.submit("lab", _key("lab", request), request, work)

    def start_compression(
        self,
        model_name: str | None,
        params: Mapping[str, Any],
        dataset: str | None = None,
        image_id: str | None = None,
    ) -> tuple[Job, bool]:
        """A compression run (app/compress/runs.py) as a job: variants of the model measured on
        the gallery (or an uploaded evaluation set), with maps of `image_id` when given."""
        parsed = parse_params(RunParams, params, "compression")
        model = self.models.get(model_name)
        check_run(model, parsed)
        limits = self.settings.max_image_bytes, self.settings.max_image_pixels
        archive = None if dataset is None else stored_dataset(self.settings.data_dir, dataset)
        own = archive is None and is_shapes_model(model)  # the Shapes test split, not photos
        images = len(EVALUATION_SAMPLES) if archive is None else dataset_images(archive)
        if not own:
            estimate = evaluation_set_bytes(
                model,
                images,
                parsed.augmentations,
                parsed.calibration_augmentations,
                self.settings.max_image_pixels,
            )
            check_job_memory(
                estimate,
                self.settings.max_job_memory,
                f"an evaluation set of {images:,} images × {1 + parsed.augmentations} views",
                "use fewer augmentations or a smaller set",
            )
        image = (
            None if image_id is None else (image_id, self.images.get(image_id).model_view(model))
        )
        evaluation_name = dataset or "gallery"
        request = {
            "model": model.name,
            "weights": model.weights,
            "params": parsed.model_dump(mode="json"),
            "evaluation": evaluation_name,
            "image_id": image_id,
        }

        def work(progress: Progress) -> Any:
            # Decoded in the job, not the request: an archive can hold 2,000 photos.
            if archive is None:
                evaluation = default_evaluation_set(model, parsed, progress)
            else:
                evaluation = build_evaluation_set(
                    model,
                    zip_sources(read_dataset(archive), *limits),
                    evaluation_name,
                    parsed.augmentations,
                    parsed.calibration_augmentations,
                    parsed.seed,
                    progress,
                )
            return run_comparison(self.settings, model, parsed, evaluation, image, progress)

        return self.jobs.submit("compress", _key("compress", request), request, work)

    def add_dataset(self, content: bytes) -> DatasetInfo:
        """Keep an uploaded zip of evaluation images (checked image by image)."""
        limits = self.settings.max_image_bytes, self.settings.max_image_pixels
        return store_dataset(self.settings.data_dir, content, *limits, self.settings.kept_datasets)

    def start_fewshot(
        self,
        model_name: str | None,
        examples: list[tuple[str, str]],
        queries: list[str],
        k: int,
    ) -> tuple[Job, bool]:
        """Classify `queries` (image ids) by their k nearest `examples` (image id, label) on the
        model's features, as a job: the embedding runs in the queue, within its deadlines and
        fair share, not inside the request. Unknown image ids fail here, at once."""
        model = self.models.get(model_name)
        shown = [self.images.get(i) for i, _ in examples]
        asked = [self.images.get(i) for i in queries]

        def work(progress: Progress) -> FewShotResult:
            pixels = torch.from_numpy(np.stack([i.model_view(model).numpy() for i in shown]))
            classifier = FewShotClassifier(model, pixels, [label for _, label in examples], k)
            progress(1, 2)
            query = torch.from_numpy(np.stack([i.model_view(model).numpy() for i in asked]))
            predictions = classifier.predict(query)
            progress(2, 2)
            return FewShotResult(list(queries), [i for i, _ in examples], predictions)

        request = {"model": model.name, "examples": examples, "queries": queries, "k": k}
        return self.jobs.submit("fewshot", _key("fewshot", request), request, work)

    def _check_memory(self, model: LoadedModel, method: str, params: Mapping[str, Any]) -> None:
        """Refuse (422) a method whose batches would pass LANTERN_MAX_JOB_MEMORY."""
        estimate = method_bytes(model, METHODS.get(method).forward_only, params)
        batch = params.get("batch_size")
        what = f"{method} with batch_size {batch}" if batch else method
        check_job_memory(estimate, self.settings.max_job_memory, what, "use a smaller batch_size")

    def _explained(self, subject: Subject) -> tuple[LoadedModel, Subject, dict[str, Any]]:
        """What a job about one method's map starts from: the model, the subject with its class
        (the top class when none is given, so that 'the top class' and the same class by index
        are one job and one cache entry) and the method's parameters, checked against the
        model and the memory budget."""
        model = self.models.get(subject.model)
        if subject.target is None:
            pixels = self.images.get(subject.image_id).model_view(model).unsqueeze(0)
            subject = replace(subject, target=int(model.probabilities(pixels)[0].argmax()))
        parsed = _method_params(model, subject.method, subject.params)
        self._check_memory(model, subject.method, parsed)
        return model, subject, parsed

    def _start(
        self,
        kind: str,
        model: LoadedModel,
        subject: Subject,
        params: dict[str, Any],
        work: Callable[[StoredImage, Progress], Any],
        background: bool = False,
    ) -> tuple[Job, bool]:
        """Queue `work` on the subject's image, keyed by everything that decides its result;
        `background` for checks that must not hold up the next image's maps."""
        if subject.target is not None:
            check_class(model, subject.target)
        image = self.images.get(subject.image_id)
        request = _request(model, subject, params)
        return self.jobs.submit(
            kind, _key(kind, request), request, lambda progress: work(image, progress), background
        )

    def sanity(self, job_id: str) -> RandomizationResult:
        result = self._result(job_id, "sanity")
        assert isinstance(result, RandomizationResult)
        return result

    def explanation(self, job_id: str) -> Explanation:
        result = self._result(job_id, "explanation")
        assert isinstance(result, Explanation)
        return result

    def consensus(self, job_ids: list[str]) -> Consensus:
        """Where the finished explanations of one image and class agree (app/trust/consensus)."""
        results = [self.explanation(job_id) for job_id in job_ids]
        first = results[0]
        for other in results[1:]:
            same = (other.model, other.target) == (first.model, first.target)
            if not same or not np.array_equal(other.input, first.input):
                raise BadParameter("consensus compares maps of one image and class on one model")
        return consensus([(METHODS.get(r.method).title, r.attribution, r.signed) for r in results])

    def attack_outcome(self, job_id: str) -> AttackOutcome:
        result = self._result(job_id, "attack")
        assert isinstance(result, AttackOutcome)
        return result

    def top(self, model_name: str, probs: np.ndarray, count: int) -> list[Prediction]:
        return _top(self.models.get(model_name), probs, count)

    def _result(self, job_id: str, kind: str) -> Any:
        job = self.jobs.get(job_id)
        if job.kind != kind:
            raise JobNotFinished(f"job {job_id} is of kind '{job.kind}', not '{kind}'")
        if job.status != JobStatus.DONE:
            raise JobNotFinished(f"job {job_id} is {job.status}, so it has no result")
        return job.result


def _sample(name: str) -> Image.Image:
    """A sample by name: a gallery photo, or a Shapes test image (`shapes-N`: app/shapes)."""
    return shapes_image(name) if is_shapes_sample(name) else sample_image(name)


def _request(model: LoadedModel, subject: Subject, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "image_id": subject.image_id,
        "model": model.name,
        "method": subject.method,
        "target": subject.target,
        "params": params,
    }


def _key(kind: str, request: Mapping[str, Any]) -> str:
    """What decides a job's result: equal keys, equal results (the cache)."""
    return kind + ":" + json.dumps(request, sort_keys=True)


def _method_params(model: LoadedModel, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The method's parameters, validated, for a method that can run on `model`."""
    explainer = METHODS.get(method)
    reason = explainer.supports(model)
    if reason is not None:
        raise UnsupportedMethod(f"{method} cannot run on {model.name}: {reason}")
    parsed: dict[str, Any] = parse_params(explainer.Params, params, method).model_dump(mode="json")
    return parsed


def _top(model: LoadedModel, probs: np.ndarray, count: int) -> list[Prediction]:
    order = np.argsort(probs)[::-1][:count]
    return [Prediction(int(i), model.labels[int(i)], float(probs[i])) for i in order]
