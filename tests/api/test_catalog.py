"""The catalog API: one entry shape for every registry, read by the pages' menus, forms and
behaviour (which is why no page lists a method, attack, recipe or experiment by name)."""

import pytest

from app.attacks import ATTACKS
from app.compress import RECIPES
from app.explain import METHODS
from app.shapes import EXPERIMENTS

FAMILIES = {
    "/api/methods": METHODS,
    "/api/attacks": ATTACKS,
    "/api/compress/recipes": RECIPES,
    "/api/lab/experiments": EXPERIMENTS,
}


@pytest.mark.parametrize("path", FAMILIES)
def test_every_registry_is_listed_in_one_entry_shape(client, path) -> None:
    registry = FAMILIES[path]
    entries = client.get(path).json()
    assert [entry["name"] for entry in entries] == registry.names()
    for entry in entries:
        item = registry.get(entry["name"])
        assert entry["title"] == item.title
        assert entry["description"] and "\n" not in entry["description"], entry["name"]
        assert entry["params_schema"] == item.Params.model_json_schema()


@pytest.mark.parametrize("path", ["/api/methods", "/api/attacks"])
def test_methods_and_attacks_keep_the_fields_they_always_had(client, path) -> None:
    for entry in client.get(path).json():
        assert entry["parameters"] == entry["params_schema"]
        for field in ("reference", "signed", "needs_target", "in_default_panel", "forward_only"):
            assert field in entry, (entry["name"], field)


def test_the_pages_behaviour_comes_from_the_classes(client) -> None:
    methods = client.get("/api/methods").json()
    assert [m["name"] for m in methods if m["in_attack_panel"]] == [
        m.name for m in METHODS if m.in_attack_panel
    ]
    recipes = {r["name"]: r for r in client.get("/api/compress/recipes").json()}
    assert recipes["prune_magnitude"]["sparsity"] == "zeros"
    assert recipes["prune_channels"]["sparsity"] == "removed"
    assert recipes["int8_static"]["sparsity"] is None
    description = recipes["int8_static"]["description"]
    assert description.startswith("Static int8 post-training quantization with ONNX Runtime")


def test_the_shapley_page_names_its_method_from_the_class(client) -> None:
    from app.explain.kernel_shap import KernelShap

    assert f'data-method="{KernelShap.name}"' in client.get("/shapley").text
