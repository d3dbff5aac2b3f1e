"""What can be used: models, their classes, methods, attacks and the sample photos; and the one
catalog entry shape of every registry (methods, attacks, recipes, experiments)."""

import inspect
from typing import Any, TypeVar

from fastapi import APIRouter, Response

from app.api.deps import WorkspaceDep, png_response
from app.api.schemas import CatalogEntry, MethodOrAttackEntry, ModelView, SampleView
from app.attacks import ATTACKS, Attack
from app.catalog import CatalogEntry as ModelEntry
from app.catalog import catalog
from app.explain import METHODS, Method
from app.imaging import SAMPLES, sample_image
from app.imaging.overlay import colormap_anchors
from app.imaging.samples import CAPTIONS
from app.layers import spatial_convs
from app.workspace import Workspace
from app.zoo import MODELS, get_spec

__all__ = ["catalog_entry", "description_of", "model_view", "router"]

router = APIRouter(tags=["catalog"])
_THUMBNAIL = 160


def model_view(entry: ModelEntry, workspace: Workspace) -> ModelView:
    """A catalog entry as the API shows it; what it cannot run once it is loaded."""
    pool = workspace.models
    unsupported = None
    if pool.is_loaded(entry.name):
        model = pool.get(entry.name)
        reasons = {method.name: method.supports(model) for method in METHODS}
        unsupported = {name: reason for name, reason in reasons.items() if reason is not None}
    return ModelView(
        name=entry.name,
        description=entry.description,
        default=entry.name == workspace.settings.default_model,
        loaded=pool.is_loaded(entry.name),
        weights=entry.source,
        group=entry.group,
        title=entry.title,
        architecture=entry.architecture,
        classes=entry.classes,
        parameters=entry.parameters,
        bytes=entry.bytes,
        engine=entry.engine,
        gradient_engine=entry.gradient_engine,
        unsupported=unsupported,
    )


@router.get("/models")
def list_models(workspace: WorkspaceDep) -> list[ModelView]:
    """Every model that can be used here, group by group: built-in, yours, lab, compressed
    (torchvision architectures without weights here are GET /api/architectures)."""
    settings = workspace.settings
    views = []
    for name in workspace.models.preloaded:
        model = workspace.models.get(name)
        views.append(
            ModelView(
                name=name,
                description=model.spec.description,
                default=name == settings.default_model,
                loaded=True,
                weights=model.weights,
            )
        )
    for entry in catalog(settings):
        if entry.name not in workspace.models.preloaded:
            views.append(model_view(entry, workspace))
    return views


@router.get("/models/{name:path}/classes")
def list_classes(name: str, workspace: WorkspaceDep) -> list[str]:
    """The class names, by index."""
    if name in MODELS and not workspace.models.is_loaded(name):
        return get_spec(name).labels()  # without loading its weights
    return workspace.models.get(name).labels


@router.get("/models/{name:path}/layers")
def list_layers(name: str, workspace: WorkspaceDep) -> list[str]:
    """Layers Grad-CAM can use, the model's default first, then from the output back."""
    model = workspace.models.get(name)
    layers = spatial_convs(model)[::-1]
    default = model.spec.grad_cam_layer
    return ([default] if default else []) + [layer for layer in layers if layer != default]


Entry = TypeVar("Entry", bound=CatalogEntry)


def description_of(item: object) -> str:
    """The first paragraph of what its class documents: a `description` it sets, else its
    docstring, else its module's (one method, attack or recipe is one module), on one line."""
    cls = type(item)
    text = getattr(item, "description", None)
    if not isinstance(text, str):
        text = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
        text = text or inspect.getdoc(inspect.getmodule(cls)) or ""
    return " ".join(text.split("\n\n")[0].split())


def catalog_entry(item: Any, entry: type[Entry], **extra: Any) -> Entry:
    """The catalog entry of a registered item: name, title, description and its parameters'
    JSON schema, plus the `extra` fields of its family's `entry` type."""
    return entry(
        name=item.name,
        title=item.title,
        description=description_of(item),
        params_schema=item.Params.model_json_schema(),
        **extra,
    )


def _method_or_attack(item: Method | Attack, **extra: Any) -> MethodOrAttackEntry:
    return catalog_entry(
        item,
        MethodOrAttackEntry,
        reference=item.reference,
        parameters=item.Params.model_json_schema(),
        **extra,
    )


@router.get("/methods")
def list_methods() -> list[MethodOrAttackEntry]:
    """The explanation methods in menu order, with what the pages need to offer them."""
    return [
        _method_or_attack(
            method,
            signed=method.signed,
            in_default_panel=method.in_default_panel,
            in_attack_panel=method.in_attack_panel,
            forward_only=method.forward_only,
            caption=method.caption,
        )
        for method in METHODS
    ]


@router.get("/colormaps")
def list_colormaps() -> dict[str, list[str]]:
    """Each colormap's anchor colours (CSS hex, evenly spaced from the low end): the legends.
    `auto` draws signed maps with coolwarm (blue against, red for) and others with reds."""
    return colormap_anchors()


@router.get("/attacks")
def list_attacks() -> list[MethodOrAttackEntry]:
    return [_method_or_attack(attacker, needs_target=attacker.needs_target) for attacker in ATTACKS]


@router.get("/samples")
def list_samples() -> list[SampleView]:
    return [
        SampleView(name=name, thumbnail_url=f"/api/samples/{name}.png", caption=CAPTIONS[name])
        for name in SAMPLES
    ]


@router.get("/samples/{name}.png", response_class=Response)
def read_sample_thumbnail(name: str) -> Response:
    image = sample_image(name)
    image.thumbnail((_THUMBNAIL, _THUMBNAIL))
    return png_response(image)
