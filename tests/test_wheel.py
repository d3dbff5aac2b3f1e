"""Lantern as a user installs it: the sdist, the wheel built from it, installed (not editable)
into a fresh virtual environment, serves its pages and explains a photo.

The new environment reuses this one's dependencies through a .pth line (no download); the
`app` package and the `lantern` script are the wheel's, run from a folder outside the checkout.
"""

import importlib.metadata
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

pytestmark = pytest.mark.slow  # builds, installs and starts Lantern: about a minute

ROOT = Path(__file__).parents[1]


def _backend_hook(hook: str, source: Path, out: Path) -> Path:
    """Run the project's PEP 517 backend (as `pip wheel --no-build-isolation` would: offline)."""
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["build-backend"]
    code = f"import sys, importlib; print(importlib.import_module({backend!r}).{hook}(sys.argv[1]))"
    run = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out / run.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from the sdist, so both are checked: a file missing from the sdist is
    missing from the wheel too."""
    folder = tmp_path_factory.mktemp("dist")
    sdist = _backend_hook("build_sdist", ROOT, folder)
    with tarfile.open(sdist) as archive:
        archive.extractall(folder / "unpacked", filter="data")
    (source,) = (folder / "unpacked").iterdir()
    return _backend_hook("build_wheel", source, folder)


def _clean_environment(**extra: str) -> dict[str, str]:
    """No LANTERN_* setting and no PYTHONPATH from the caller can reach the installed copy."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LANTERN_") and key not in ("PYTHONPATH", "PYTHONHOME")
    }
    return {**kept, **extra}


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed (not editable); returns its bin/."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    # After the install, so pip never sees (or touches) this environment's editable copy.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    reused = [path for path in sys.path if path.endswith("site-packages")]
    Path(purelib, "_reused_dependencies.pth").write_text("\n".join(reused) + "\n")
    return venv / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(installed, tmp_path_factory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("serve")
    port = _free_port()
    log = folder / "server.log"
    environment = _clean_environment(
        LANTERN_DATA_DIR=str(folder / "data"), LANTERN_DEVICE="cpu", LANTERN_FAST_FORWARD="false"
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [installed / "lantern", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not become ready"
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_wheel_carries_the_pages_and_the_labels(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        files = [path for path in (ROOT / folder).rglob("*") if path.is_file()]
        assert files
        for path in files:
            assert f"app/{path.relative_to(ROOT).as_posix()}" in names, path
    assert "app/zoo/imagenet_classes.txt" in names
    for module in (ROOT / "app").rglob("*.py"):
        assert module.relative_to(ROOT).as_posix() in names, module
    assert not any(name.startswith(("tests/", "templates/", "static/")) for name in names)


def test_the_installed_package_is_the_wheels(installed, tmp_path) -> None:
    run = subprocess.run(
        [installed / "python", "-c", "import app; print(app.__file__)"],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(run.stdout.strip()).is_relative_to(installed.parent)


def test_the_installed_server_serves_its_pages(server) -> None:
    page = server.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    scripts = re.findall(r'src="(/static/js/[^"]+\.js)"', page.text)
    styles = re.findall(r'href="(/static/css/[^"]+\.css)"', page.text)
    assert scripts and styles
    for path in (scripts[0], styles[0]):
        response = server.get(path)
        assert response.status_code == 200, path
        assert response.content == (ROOT / path.removeprefix("/")).read_bytes()
    assert server.get(scripts[0]).headers["content-type"].startswith("text/javascript")
    docs = server.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # The version the API and the reports show (app.report.versions) is the installed one.
    info = server.get("/openapi.json").json()["info"]
    assert info["version"] == importlib.metadata.version("lantern")


def test_the_installed_command_explains_a_photo(installed, tmp_path) -> None:
    out = tmp_path / "saliency.npz"
    command = [installed / "lantern", "explain", "sample:chelsea", "--method", "saliency"]
    run = subprocess.run(
        [*command, "--device", "cpu", "--out", str(out)],
        cwd=tmp_path,
        env=_clean_environment(LANTERN_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "tabby" in run.stdout and out.is_file()


def test_the_installed_command_knows_its_version(installed, wheel, tmp_path) -> None:
    version = importlib.metadata.version("lantern")
    assert wheel.name.startswith(f"lantern-{version}-")
    run = subprocess.run(
        [installed / "lantern", "--version"],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == f"lantern {version}"
