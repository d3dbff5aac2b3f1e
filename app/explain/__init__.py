"""Explanation methods: one module each, one registry, one result type, one verb."""

# Importing the method modules registers them, in the order menus show them.
# isort: off
from app.explain import occlusion, saliency, guided_backprop, deconvnet  # noqa: F401
from app.explain import grad_cam, guided_grad_cam, integrated_gradients  # noqa: F401
from app.explain import kernel_shap, gradient_shap  # noqa: F401

# isort: on
from app.explain.base import Explanation, Method, MethodParams, Progress
from app.explain.engine import explain
from app.explain.registry import METHODS, register_method

__all__ = [
    "METHODS",
    "Explanation",
    "Method",
    "MethodParams",
    "Progress",
    "explain",
    "register_method",
]
