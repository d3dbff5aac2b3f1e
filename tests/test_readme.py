"""The README keeps its promises: the two commands first, and a Dockerfile that mirrors them
(its extension snippets are run by tests/test_extend.py)."""

import re
from pathlib import Path


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
    # The image serves on 0.0.0.0, which Lantern refuses without a token: compose requires one.
    assert "LANTERN_API_TOKEN: ${LANTERN_API_TOKEN:?" in compose
    assert '"127.0.0.1:8000:8000"' in compose
