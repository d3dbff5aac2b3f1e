"""The README's extension snippet is real code: run it and check what it registers."""

import re
from pathlib import Path

import numpy as np

from app.explain import METHODS, explain
from tests.models import LinearNet, linear_gradient, loaded


def test_add_a_method_snippet_works(pixels) -> None:
    readme = Path(__file__).parents[1].joinpath("README.md").read_text(encoding="utf-8")
    section = readme.split("## Add a method in three steps", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert snippet is not None
    try:
        exec(compile(snippet.group(1), "README.md", "exec"), {})
        model = loaded(LinearNet())
        result = explain(model, pixels, "gradient_x_input", target=1)
        expected = linear_gradient(model, 1) * pixels
        np.testing.assert_allclose(result.raw, expected.numpy(), rtol=1e-5, atol=1e-7)
    finally:
        METHODS.remove("gradient_x_input")


def test_readme_starts_with_the_two_commands() -> None:
    readme = Path(__file__).parents[1].joinpath("README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]


def test_the_dockerfile_mirrors_make_demo() -> None:
    """The image starts the way the README's first command does, from Lantern's wheel installed
    as a user would (not editable), as a non-root user, with the data directory as a volume and
    a health check on /healthz."""
    root = Path(__file__).parents[1]
    dockerfile = root.joinpath("docker", "Dockerfile").read_text(encoding="utf-8")
    makefile = root.joinpath("Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[dev]'" in makefile and " -e " not in dockerfile
    assert "RUN pip wheel --no-deps --wheel-dir /wheels ." in dockerfile
    assert "RUN pip install /wheels/lantern-*.whl" in dockerfile.split("COPY --from=wheel", 1)[1]
    assert "$(BIN)/lantern serve" in makefile
    assert 'CMD ["lantern", "serve", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.MULTILINE)
    assert 'VOLUME ["/data"]' in dockerfile and "LANTERN_DATA_DIR=/data" in dockerfile
    assert "/healthz" in dockerfile.split("HEALTHCHECK", 1)[1]
    compose = root.joinpath("docker", "compose.yaml").read_text(encoding="utf-8")
    assert "dockerfile: docker/Dockerfile" in compose and "/data" in compose
