"""Request and response bodies of the HTTP API (shapes only; the work is in app.workspace)."""

import dataclasses
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.attacks import AttackResult
from app.explain import Explanation
from app.explain.base import METHODS
from app.imaging import Display, map_peak
from app.jobs.images import StoredImage
from app.jobs.kinds import JOB_KINDS, job_kind
from app.jobs.queue import Job
from app.params import MAX_SEED
from app.trust import FaithfulnessResult, RandomizationResult, Removal
from app.trust.verdict import faithfulness_verdict, sanity_verdict
from app.workspace import AttackOutcome, Prediction, Subject, Workspace

__all__ = [
    "AttackRequest",
    "AttackView",
    "AuditView",
    "CatalogEntry",
    "ConsensusRequest",
    "ConsensusView",
    "DataRandomizationView",
    "ExplanationRequest",
    "ExplanationView",
    "FaithfulnessRequest",
    "FaithfulnessView",
    "ImageView",
    "JobView",
    "MethodOrAttackEntry",
    "ModelView",
    "PredictionView",
    "RecipeEntry",
    "ReportRequest",
    "ReportView",
    "SampleView",
    "SanityRequest",
    "SanityView",
]


class PredictionView(BaseModel):
    index: int
    label: str
    probability: float

    @classmethod
    def of(cls, prediction: Prediction) -> "PredictionView":
        return cls(
            index=prediction.index, label=prediction.label, probability=prediction.probability
        )


class ImageView(BaseModel):
    id: str
    name: str = Field(description="The client's file name, for display only")
    width: int
    height: int
    model: str
    view_url: str = Field(description="PNG of the image as the model sees it (after the crop)")
    predictions: list[PredictionView]

    @classmethod
    def of(cls, image: StoredImage, model: str, predictions: list[Prediction]) -> "ImageView":
        return cls(
            id=image.id,
            name=image.name,
            width=image.width,
            height=image.height,
            model=model,
            view_url=f"/api/images/{image.id}/view.png?model={model}",
            predictions=[PredictionView.of(p) for p in predictions],
        )


_ABSOLUTE_PATH = re.compile(
    r"(?<![^\s'\"(=])(?:[A-Za-z]:)?[/\\](?:[^\s/\\'\"]+[/\\])*([^\s/\\'\"]+)"
)


class ModelView(BaseModel):
    name: str
    description: str
    default: bool
    loaded: bool
    weights: str = Field(description="Where the weights come from (a file name, never a path)")
    group: str = Field("built-in", description="built-in, yours, lab or compressed")
    title: str | None = None
    architecture: str | None = None
    classes: int | None = None
    parameters: int | None = Field(None, description="Parameters (non-zero ones of a variant)")
    bytes: int | None = Field(None, description="Size of its weights file")
    engine: str | None = Field(None, description="What forward passes run on")
    gradient_engine: str | None = Field(
        None, description="What gradient methods differentiate, when not the same network"
    )
    unsupported: dict[str, str] | None = Field(
        None, description="Methods it cannot run, with why (known once it is loaded)"
    )

    @field_validator("weights")
    @classmethod
    def _no_paths(cls, value: str) -> str:
        """A client learns nothing about the server's folders: paths become file names."""
        return _ABSOLUTE_PATH.sub(r"\1", value)


class CatalogEntry(BaseModel):
    """One registered method, attack, recipe or experiment: what the pages' menus, forms and
    behaviour read. Each family adds its own fields in a subclass."""

    name: str
    title: str
    description: str = Field(description="The first paragraph of its documentation")
    params_schema: dict[str, Any] = Field(description="JSON schema of its parameters")


class MethodOrAttackEntry(CatalogEntry):
    """An explanation method or an attack, with every field /api/methods and /api/attacks have
    returned since they began (`parameters` is `params_schema` again)."""

    reference: str
    signed: bool | None = None
    needs_target: bool | None = None
    in_default_panel: bool = False
    in_attack_panel: bool = Field(False, description="Ticked on the attack page")
    forward_only: bool | None = Field(None, description="Needs only forward passes")
    caption: str | None = Field(
        None, description="What a map's colours mean, in a sentence; {label} = the class"
    )
    parameters: dict[str, Any]


class RecipeEntry(CatalogEntry):
    """A compression recipe."""

    sparsity: Literal["zeros", "removed"] | None = Field(
        None,
        description="How a variant's sparsity is read: the share of weights at zero, or of the "
        "original's parameters removed; null: not a pruning recipe",
    )


class SampleView(BaseModel):
    name: str
    thumbnail_url: str
    caption: str = Field(description="What the sample shows in a demo, in a few words")


class ExplanationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(max_length=64)
    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    method: str = Field(max_length=100, examples=["grad_cam"])
    target: int | None = Field(None, description="Class index; default: the top-1 class")
    params: dict[str, Any] = Field(default_factory=dict)

    def subject(self) -> Subject:
        return Subject(self.image_id, self.model, self.method, self.target, self.params)


class AttackRequest(ExplanationRequest):
    method: str = Field(max_length=100, examples=["fgsm"])
    target: int | None = Field(None, description="Class to reach; default: untargeted")


@job_kind("explanation")
class ExplanationView(BaseModel):
    method: str
    title: str
    model: str
    target: int
    target_label: str
    probability: float
    seconds: float
    params: dict[str, Any]
    warnings: list[str]
    signed: bool
    device: str
    engine: str = Field(description="What ran the forward passes: PyTorch or ONNX Runtime")
    caption: str = Field(description="What the map's colours mean, in one plain sentence")
    peak: float = Field(description="99th percentile of |value|: the default full-colour value")
    minimum: float
    maximum: float
    map_url: str
    overlay_url: str

    @classmethod
    def of(cls, job_id: str, result: Explanation, workspace: Workspace) -> "ExplanationView":
        return cls(
            method=result.method,
            title=METHODS.get(result.method).title,
            model=result.model,
            target=result.target,
            target_label=result.target_label,
            probability=float(result.probs[result.target]),
            seconds=result.seconds,
            params=result.params,
            warnings=list(result.warnings),
            signed=result.signed,
            device=result.device,
            engine=result.engine,
            caption=METHODS.get(result.method).caption.format(label=result.target_label),
            peak=map_peak(result.attribution),
            minimum=float(result.attribution.min()),
            maximum=float(result.attribution.max()),
            map_url=f"/api/jobs/{job_id}/map.npy",
            overlay_url=f"/api/jobs/{job_id}/overlay.png",
        )


@job_kind("attack")
class AttackView(BaseModel):
    method: str
    model: str
    params: dict[str, Any]
    target: int | None
    success: bool
    seconds: float
    device: str
    before: list[PredictionView]
    after: list[PredictionView]
    label_before: PredictionView
    label_after: PredictionView
    linf: float = Field(description="Largest change of any pixel, in [0, 1] units")
    amplification: float = Field(description="Factor the perturbation picture is scaled by")
    adversarial_image_id: str
    adversarial_url: str
    perturbation_url: str

    @classmethod
    def of(cls, job_id: str, outcome: AttackOutcome, workspace: Workspace) -> "AttackView":
        result: AttackResult = outcome.result

        def top(probs: Any, count: int = 5) -> list[PredictionView]:
            return [PredictionView.of(p) for p in workspace.top(result.model, probs, count)]

        linf = float(abs(result.perturbation).max())
        return cls(
            method=result.method,
            model=result.model,
            params=result.params,
            target=result.target,
            success=result.success,
            seconds=result.seconds,
            device=result.device,
            before=top(result.probs_before),
            after=top(result.probs_after),
            label_before=top(result.probs_before, 1)[0],
            label_after=top(result.probs_after, 1)[0],
            linf=linf,
            amplification=0.5 / linf if linf > 0 else 1.0,
            adversarial_image_id=outcome.adversarial.id,
            adversarial_url=f"/api/images/{outcome.adversarial.id}/view.png?model={result.model}",
            perturbation_url=f"/api/jobs/{job_id}/perturbation.png",
        )


class SanityRequest(ExplanationRequest):
    mode: Literal["cascading", "independent"] = Field(
        "cascading", description="Randomise from the top down, or one layer at a time"
    )
    steps: int = Field(8, ge=2, le=100, description="Layers (points of the cascade) to compute")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the re-initialisation")


class FaithfulnessRequest(ExplanationRequest):
    steps: int = Field(32, ge=2, le=1000, description="Points per curve, minus one")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the random reference map")
    deletion_baseline: Removal = Field(
        "road", description="What removed pixels become: ROAD's imputation or a baseline image"
    )
    insertion_baseline: Removal = Field(
        "road", description="What the pixels not yet revealed are: ROAD's imputation or a baseline"
    )


class ConsensusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_ids: list[str] = Field(
        min_length=2, max_length=16, description="Finished explanations of one image and class"
    )


class ConsensusView(BaseModel):
    sentence: str = Field(description="'4 of 5 methods point at the same region (centre).'")
    agreeing: int
    total: int
    methods: list[str] = Field(description="Titles of the methods that agree")
    region: str = Field(description="Where the region is: 'centre', 'upper left', … or ''")


class VerdictView(BaseModel):
    level: Literal["trust", "caution", "distrust", "inconclusive"]
    headline: str = Field(description="A few words: 'Faithful', 'Ignores the model', …")
    sentence: str = Field(description="One plain sentence with the evidence")
    explainer: str = Field(description="What the test does, for 'what does this mean?'")


class DataRandomizationView(BaseModel):
    random_labels_model: str = Field(description="The model trained on randomly permuted labels")
    target: int = Field(description="The class the explained model's map is for")
    random_labels_target: int = Field(description="The bogus model's own top class")
    similarity: dict[str, float] = Field(
        description="Metric -> similarity of the two maps; a map that explains the model is "
        "unlike the bogus model's (low)"
    )


@job_kind("sanity")
class SanityView(BaseModel):
    method: str
    model: str
    target: int
    mode: str
    steps: list[str] = Field(description="Per step: the last layer randomised (or the only one)")
    similarity: dict[str, list[float]] = Field(description="Metric -> one value per step")
    mean_rank_correlation: float
    passes: bool
    threshold: float
    seconds: float
    map_urls: list[str] = Field(description="The randomised maps, one PNG per step")
    verdict: VerdictView
    data_randomization: DataRandomizationView | None = Field(
        None,
        description="The same method's map from a model trained on random labels (for a Shapes "
        "student: shapes/random-labels, once the lab's random_labels experiment made it)",
    )

    @classmethod
    def of(cls, job_id: str, result: RandomizationResult, workspace: Workspace) -> "SanityView":
        return cls(
            **result.summary(),
            map_urls=[f"/api/jobs/{job_id}/randomized/{k}.png" for k in range(len(result.maps))],
            verdict=VerdictView(**dataclasses.asdict(sanity_verdict(result))),
        )


@job_kind("faithfulness")
class FaithfulnessView(BaseModel):
    method: str
    model: str
    target: int
    deletion_baseline: str
    insertion_baseline: str
    fractions: list[float]
    deletion: list[float]
    insertion: list[float]
    deletion_auc: float
    insertion_auc: float
    random_deletion: list[float]
    random_insertion: list[float]
    random_deletion_auc: float
    random_insertion_auc: float
    seconds: float
    verdict: VerdictView

    @classmethod
    def of(
        cls, job_id: str, result: FaithfulnessResult, workspace: Workspace
    ) -> "FaithfulnessView":
        label = workspace.models.get(result.model).labels[result.target]
        verdict = faithfulness_verdict(result, label)
        return cls(**result.summary(), verdict=VerdictView(**dataclasses.asdict(verdict)))


@job_kind("lab")
@job_kind("compress")
class ReportView:
    """Shapes lab reports and compression runs: the report dataclass as JSON."""

    @classmethod
    def of(cls, job_id: str, result: Any, workspace: Workspace) -> dict[str, Any]:
        return dataclasses.asdict(result)


@job_kind("audit")
class AuditView:
    """A dataset audit (app/audit/): its report.json, with `audit_id` naming its folder."""

    @classmethod
    def of(cls, job_id: str, result: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
        return result


class JobView(BaseModel):
    id: str
    kind: str = Field(description="A registered job kind: explanation, attack, sanity, …")
    status: Literal["queued", "running", "done", "failed", "cancelled", "timeout"]
    progress: float = Field(ge=0.0, le=1.0)
    eta_seconds: float | None
    elapsed_seconds: float | None
    request: dict[str, Any]
    result: Any = Field(None, description="The result as the job's kind shows it (when done)")
    error: str | None = None
    error_status: int | None = None
    reused: bool = Field(False, description="True when an identical earlier job answered")
    events_url: str
    cancel_url: str

    @classmethod
    def of(cls, job: Job, workspace: Workspace, reused: bool = False) -> "JobView":
        result = None
        if job.status == "done":
            result = JOB_KINDS.get(job.kind).of(job.id, job.result, workspace)
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status.value,
            progress=job.progress,
            eta_seconds=job.eta_seconds(),
            elapsed_seconds=job.elapsed_seconds(),
            request=job.request,
            result=result,
            error=job.error,
            error_status=job.error_status,
            reused=reused,
            events_url=f"/api/jobs/{job.id}/events",
            cancel_url=f"/api/jobs/{job.id}/cancel",
        )


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(max_length=64)
    model: str | None = Field(None, max_length=200)
    job_ids: list[str] = Field(min_length=1, max_length=64, description="Explanation jobs")
    check_ids: list[str] = Field(
        default_factory=list,
        max_length=128,
        description="Finished sanity and faithfulness jobs of those maps: verdicts under each",
    )
    display: Display = Field(default_factory=Display, description="Shared display settings")
    title: str = Field("Lantern comparison", max_length=200)
