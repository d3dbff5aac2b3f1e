"""The models a server has loaded: each built once, on first use, and shared by every job."""

import threading
from collections.abc import Callable, Iterable

from app.settings import Settings
from app.zoo import LAB_PREFIX
from app.zoo.spec import LoadedModel

__all__ = ["ModelPool"]

Loader = Callable[[str, Settings], LoadedModel]


class ModelPool:
    """Loaded models by name. `preloaded` models (e.g. tests' tiny ones) are listed first."""

    def __init__(
        self, settings: Settings, loader: Loader, preloaded: Iterable[LoadedModel] = ()
    ) -> None:
        self._settings = settings
        self._loader = loader
        self._models = {model.name: model for model in preloaded}
        self._preloaded = list(self._models)
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._written: dict[str, float | None] = {}  # a lab model's file time when loaded

    def get(self, name: str | None = None) -> LoadedModel:
        """The model `name` (default: the settings' default model), loading it if needed.

        Loading one model (seconds) does not hold up requests for models already loaded."""
        name = name or self._settings.default_model
        written = self._lab_written(name)
        with self._lock:
            if name in self._models and self._written.get(name) == written:
                return self._models[name]
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            if name not in self._models or self._written.get(name) != written:
                # A retrained lab model is a new model; jobs holding the old one keep it.
                model = self._loader(name, self._settings)
                with self._lock:
                    self._models[name] = model
                    self._written[name] = written
            return self._models[name]

    def _lab_written(self, name: str) -> float | None:
        """When the lab's model `name` was written (None for any other model)."""
        if not name.startswith(LAB_PREFIX):
            return None
        from app.shapes.storage import model_path  # the lab builds on the zoo

        path = model_path(self._settings, name.removeprefix(LAB_PREFIX))
        return path.stat().st_mtime if path.is_file() else None

    def is_loaded(self, name: str) -> bool:
        return name in self._models

    @property
    def preloaded(self) -> list[str]:
        return list(self._preloaded)
