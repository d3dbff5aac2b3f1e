"""The models a server has loaded: each built once, on first use, and shared by every job."""

import threading
from collections.abc import Callable, Iterable

from app.catalog import COMPRESSED_PREFIX, file_stamp
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
        # When the file behind a lab, user or compressed model was written, when loaded.
        self._written: dict[str, float | None] = {}

    def get(self, name: str | None = None) -> LoadedModel:
        """The model `name` (default: the settings' default model), loading it if needed.

        Loading one model (seconds) does not hold up requests for models already loaded."""
        name = name or self._settings.default_model
        written = None if name in self._preloaded else file_stamp(self._settings, name)
        with self._lock:
            if name in self._models and self._written.get(name) == written:
                return self._models[name]
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            if name not in self._models or self._written.get(name) != written:
                # A retrained lab model is a new model; jobs holding the old one keep it.
                model = self._load(name)
                with self._lock:
                    self._models[name] = model
                    self._written[name] = written
            return self._models[name]

    def _load(self, name: str) -> LoadedModel:
        if name.startswith(COMPRESSED_PREFIX):
            from app.compress.saved import load_variant  # the Compression lab builds on the zoo

            # Its original comes from the pool: loaded once, and a preloaded one is known.
            return load_variant(self._settings, name, self.get)
        return self._loader(name, self._settings)

    def is_loaded(self, name: str) -> bool:
        return name in self._models

    @property
    def preloaded(self) -> list[str]:
        return list(self._preloaded)
