"""Job kinds: each kind of job the server runs names the view that shows its result.

A kind is registered where its view is defined (app/api/schemas.py), with `@job_kind(NAME)` on
a class whose `of(job_id, result, workspace)` shapes a finished job's result for the API. The
job view reads this registry, so a new kind is one registration plus its route and page. This
module knows no domain package.
"""

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from app.errors import LanternError
from app.registry import Registry

__all__ = ["JOB_KINDS", "JobKind", "job_kind"]


class UnknownJobKind(LanternError):
    """A job names a kind that is not registered."""


class JobKind(Protocol):
    """What a kind registers: how a finished job's result is shown."""

    @classmethod
    def of(cls, job_id: str, result: Any, workspace: Any) -> Any: ...


JOB_KINDS: Registry[type[JobKind]] = Registry("job kind", UnknownJobKind, build=lambda cls: cls)

K = TypeVar("K", bound=type[JobKind])


def job_kind(name: str) -> Callable[[K], K]:
    """Class decorator: `name` is a job kind whose results the class shows."""

    def register(view: K) -> K:
        JOB_KINDS.add(name, view)
        return view

    return register
