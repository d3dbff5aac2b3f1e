"""The models a server has loaded: each built once, on first use, and shared by every job."""

import threading
from collections.abc import Callable, Iterable

from app.settings import Settings
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

    def get(self, name: str | None = None) -> LoadedModel:
        """The model `name` (default: the settings' default model), loading it if needed.

        Loading one model (seconds) does not hold up requests for models already loaded."""
        name = name or self._settings.default_model
        with self._lock:
            if name in self._models:
                return self._models[name]
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            if name not in self._models:
                model = self._loader(name, self._settings)
                with self._lock:
                    self._models[name] = model
            return self._models[name]

    def is_loaded(self, name: str) -> bool:
        return name in self._models

    @property
    def preloaded(self) -> list[str]:
        return list(self._preloaded)
