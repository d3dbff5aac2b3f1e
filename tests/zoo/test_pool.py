import threading

import pytest

from app.errors import UnknownModel
from app.zoo.pool import ModelPool
from tests.models import TinyNet, loaded


def test_models_load_once_and_a_slow_load_blocks_no_other_model(settings) -> None:
    tiny = loaded(TinyNet())
    release = threading.Event()
    calls = []

    def loader(name, settings):
        calls.append(name)
        if name == "slow":
            assert release.wait(10)
        if name == "missing":
            raise UnknownModel("unknown model 'missing'")
        return tiny

    pool = ModelPool(settings, loader, preloaded=[tiny])
    assert pool.get("tiny") is tiny and calls == []
    slow = threading.Thread(target=pool.get, args=("slow",))
    slow.start()
    assert pool.get("tiny") is tiny  # answered while "slow" is loading
    release.set()
    slow.join(10)
    assert pool.get("slow") is tiny and calls == ["slow"]
    with pytest.raises(UnknownModel):
        pool.get("missing")
    assert not pool.is_loaded("missing") and pool.preloaded == ["tiny"]


def test_a_retrained_lab_model_is_loaded_again(tmp_path) -> None:
    import os

    from app.settings import Settings
    from app.shapes.networks import ShapesStudent
    from app.shapes.storage import save_model

    settings = Settings(data_dir=tmp_path, device="cpu", fast_forward=False)
    loads: list[str] = []

    def loader(name, settings):
        loads.append(name)
        return loaded(TinyNet())

    pool = ModelPool(settings, loader)
    path = save_model(settings, "student", ShapesStudent(8))
    first = pool.get("shapes/student")
    assert pool.get("shapes/student") is first and loads == ["shapes/student"]
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))  # retrained
    assert pool.get("shapes/student") is not first and len(loads) == 2
