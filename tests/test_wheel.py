"""A wheel built from the repository runs the whole site from any folder:
templates, static files, compiled translations and content travel with it."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
from servers import free_port
from servers import init_outbox
from servers import production_env

from app.content import load_content

ROOT = Path(__file__).resolve().parent.parent
CONTENT = load_content(ROOT / "content")
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def run(args: list, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, **options
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with only the wheel installed; its dependencies come from
    this venv's site-packages (a .pth file), so the test needs no network."""
    tmp = tmp_path_factory.mktemp("wheel")
    # No build isolation: hatchling and the hook's tools come from this venv.
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", tmp / "dist", ROOT],
    )
    (wheel,) = (tmp / "dist").glob("immunotherapy_site-*.whl")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site_packages = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    # Appended after the venv's own site-packages, so the wheel's `app` wins
    # over the editable checkout this venv may point to.
    (site_packages / "dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n"
    )
    run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps"]
        + ["--no-index", wheel],
    )
    return python


def test_the_wheel_carries_the_app_and_its_files(installed, tmp_path):
    found = run(
        [installed, "-c", "import app; print(app.__file__)"], cwd=tmp_path
    ).stdout.strip()
    assert found.startswith(str(installed.parent.parent)), found


def test_content_check_reads_the_wheels_own_content(installed, tmp_path):
    """An operator checks the content the installed site serves."""
    checked = run(
        [installed, "-m", "flask", "--app", "app", "content", "check"], cwd=tmp_path
    )
    assert "Content OK" in checked.stdout, checked.stdout + checked.stderr
    assert str(installed.parent.parent) in checked.stdout


def test_the_installed_site_serves_every_page_from_another_folder(installed, tmp_path):
    port = free_port()
    env = production_env(tmp_path)
    init_outbox(env)
    env.pop("FLASK_APP")
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        # As the deploy guide starts it: the settings and app the wheel ships.
        [installed, "-m", "gunicorn", "-c", "python:app.gunicorn_conf"]
        + ["--workers", "1", "--bind", f"127.0.0.1:{port}"],
        cwd=tmp_path,  # no repository here: no content/, translations/, wsgi.py
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, server, tmp_path / "gunicorn.log")
        sitemap = requests.get(f"{base}/sitemap.xml", timeout=10)
        assert sitemap.status_code == 200
        locs = [
            loc.text
            for loc in ElementTree.fromstring(sitemap.content).findall(
                "s:url/s:loc", SITEMAP_NS
            )
        ]
        paths = {re.sub(r"^https?://[^/]+", "", loc) for loc in locs}
        expected = {
            f"/{lang}/{slug}"
            for page in CONTENT.pages.values()
            for lang, slug in page.slugs.items()
        }
        assert expected <= paths
        for path in sorted(paths):
            page = requests.get(base + path, timeout=10)
            assert page.status_code == 200, path
            lang = path.split("/")[1]
            assert f'<html lang="{lang}">' in page.text
            # Interface strings come from the compiled catalog.
            button = "Solicitar una cita" if lang == "es" else "Request an Appointment"
            assert button in page.text, path
            href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)[1]
            assert re.fullmatch(r"/static/site-[0-9a-f]{32}\.css", href)
            css = requests.get(base + href, timeout=10)
            assert css.status_code == 200
            assert css.headers["Content-Type"].startswith("text/css")
            assert "immutable" in css.headers["Cache-Control"]
            assert css.content == (ROOT / "app/static/site.css").read_bytes()
        missing = requests.get(f"{base}/es/no-such-page", timeout=10)
        assert missing.status_code == 404
        assert "Página no encontrada" in missing.text
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_the_wheels_gunicorn_settings_stop_once_without_settings(installed, tmp_path):
    """The documented start, with no settings at all: one message and a
    non-zero exit, not workers restarting in a loop under systemd."""
    home = tmp_path / "home"
    home.mkdir()
    started = time.monotonic()
    result = subprocess.run(
        [installed, "-m", "gunicorn", "-c", "python:app.gunicorn_conf"]
        + ["--bind", f"127.0.0.1:{free_port()}"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=15,  # fails the test, rather than waiting on a crash loop
    )
    assert result.returncode != 0
    assert time.monotonic() - started < 15
    assert "The site cannot start:" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr
    assert result.stderr.count("The site cannot start:") == 1, "restarted"
    assert "Traceback" not in result.stderr
    assert not (home / ".gunicorn").exists(), "gunicorn made a control socket"


def test_the_installed_site_keeps_no_outbox_inside_its_environment(installed, tmp_path):
    """A rebuilt virtualenv must not take unsent requests with it."""
    env = production_env(tmp_path, FLASK_OUTBOX_PATH=None)
    result = subprocess.run(
        [installed, "-m", "flask", "--app", "app", "routes"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is inside the virtual environment" in result.stderr
    assert "FLASK_OUTBOX_PATH" in result.stderr
    venv = installed.parent.parent
    assert not list(venv.rglob("outbox.sqlite3"))


def _wait_for(base: str, server: subprocess.Popen, log_path: Path) -> None:
    """Return once gunicorn answers; fail with its log if it exits."""
    for _ in range(300):
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            requests.get(f"{base}/robots.txt", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or still loading
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer:\n{log_path.read_text()}")
