"""The concept explorer's pages: /concepts, and a channel's stable page whose model name may hold
'/' (shapes/teacher), the last two parts of the path being the layer and the channel."""

import re

from fastapi.testclient import TestClient


def test_the_explorer_and_a_channel_page(client: TestClient) -> None:
    explorer = client.get("/concepts")
    assert explorer.status_code == 200 and "/static/js/concepts.js" in explorer.text
    for model, layer, channel in (("tiny", "conv2", 3), ("shapes/teacher", "_blocks.3", 12)):
        page = client.get(f"/concepts/{model}/{layer}/{channel}")
        assert page.status_code == 200, page.text
        assert f'data-model="{model}"' in page.text and f'data-layer="{layer}"' in page.text
        assert f'data-channel="{channel}"' in page.text
        assert "/static/js/concept_channel.js" in page.text
        for asset in re.findall(r'(?:src|href)="(/[^"?]*)"', page.text + explorer.text):
            if asset not in ("/docs", "/", "/concepts"):
                assert client.get(asset).status_code == 200, asset
    assert client.get("/concepts/tiny/conv2/three").status_code == 404
    assert client.get("/concepts/tiny/conv2").status_code == 404


def test_a_channel_page_escapes_what_it_is_given(client: TestClient) -> None:
    page = client.get('/concepts/tiny/"><script>alert(1)<%2Fscript>/conv2/0')
    assert "<script>alert(1)" not in page.text
