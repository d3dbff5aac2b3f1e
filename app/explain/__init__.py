"""Explanation methods: one module each, one registry, one result type, one verb."""

# Importing the method modules registers them, in the order menus show them.
# isort: off
from app.explain import occlusion, saliency, guided_backprop, deconvnet  # noqa: F401
from app.explain import grad_cam, guided_grad_cam, integrated_gradients  # noqa: F401
from app.explain import kernel_shap, gradient_shap  # noqa: F401

# isort: on
from app.explain.base import METHODS, Explanation, Method, MethodNames
from app.explain.engine import explain

__all__ = [
    "METHODS",
    "Explanation",
    "Method",
    "MethodNames",
    "explain",
]
