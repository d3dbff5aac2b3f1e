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
