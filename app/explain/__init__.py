"""Explanation methods: one module each, one registry, one result type, one verb."""

# Importing the method modules registers them, in the order menus show them.
from app.explain import (  # noqa: F401
    deconvnet,
    grad_cam,
    gradient_shap,
    guided_backprop,
    guided_grad_cam,
    integrated_gradients,
    kernel_shap,
    occlusion,
    saliency,
)
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
