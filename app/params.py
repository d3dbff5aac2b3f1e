"""The shared kernel every family uses: progress callbacks, the parameters base class and the one
way user-given values become parameters.

Explanation methods, attacks, compression recipes, lab experiments and jobs all take a `Params`
model (ranges, defaults and descriptions live on its fields) and report progress through a
`Progress` callback; neither belongs to any one of them.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from annotated_types import Le, Lt
from pydantic import BaseModel, ConfigDict, ValidationError

from app.errors import BadParameter

__all__ = ["MAX_SEED", "Params", "Progress", "no_progress", "parse_params"]

Progress = Callable[[int, int], None]
"""progress(done, total): called from the work's own loop; may raise Cancelled to stop it."""


def no_progress(done: int, total: int) -> None:
    return None


MAX_SEED = 2**32 - 1
"""The largest seed: what numpy and torch generators take everywhere (a larger one ended jobs
as 'internal error'; issue 19)."""


class Params(BaseModel):
    """Parameters of a method, attack, recipe or experiment: frozen, unknown names refused.
    A `seed` field is bounded by MAX_SEED unless it says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        seed = cls.model_fields.get("seed")
        if seed is not None and not any(isinstance(m, (Le, Lt)) for m in seed.metadata):
            seed.metadata.append(Le(MAX_SEED))
            cls.model_rebuild(force=True)


P = TypeVar("P", bound=BaseModel)


def parse_params(params_type: type[P], values: Mapping[str, Any] | None, owner: str) -> P:
    """Validate user-given values (strings from the CLI are coerced) against a Params model;
    a BadParameter naming `owner`, each problem and the known names otherwise."""
    try:
        return params_type.model_validate(dict(values or {}))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'params'}: {issue['msg']}"
            for issue in error.errors()
        )
        known = ", ".join(params_type.model_fields) or "none"
        raise BadParameter(f"{owner}: {problems} (parameters: {known})") from None
