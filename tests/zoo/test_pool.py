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
