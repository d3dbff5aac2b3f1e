"""HTTP only: parse, one call into app.workspace, shape the response. Never contains math."""

from fastapi import APIRouter

from app.api import (
    access,
    audit,
    catalog,
    compress,
    concept_explorer,
    concepts,
    ground_truth,
    health,
    images,
    jobs,
    lab,
    models,
    pages,
    reports,
    trust,
)

__all__ = ["api_router", "pages_router"]

api_router = APIRouter(prefix="/api")
for _module in (
    audit,
    catalog,
    compress,
    concept_explorer,
    concepts,
    ground_truth,
    images,
    jobs,
    lab,
    models,
    reports,
    trust,
):
    api_router.include_router(_module.router)

pages_router = APIRouter()
for _module in (pages, access, health):
    pages_router.include_router(_module.router)
