"""Shared fixtures: the app, its test client and CLI runner; the app over
real HTTP; a real SMTP server (aiosmtpd) on loopback; and for the browser
tests Chromium and the Nu HTML Checker."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import OUTBOX_KEY
from helpers import SITE_URL
from helpers import skip_or_fail
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import sync_playwright
from servers import free_port
from servers import serving
from smtp_sink import SMTPServer

from app import create_app
from app.config import CONTENT_DIR as DEFAULT_CONTENT_DIR

ROOT = Path(__file__).resolve().parent.parent
# Where `make vnu` puts the npm package vnu-jar; VNU_JAR points elsewhere.
VNU_JAR = Path(
    os.environ.get("VNU_JAR", ROOT / ".tools/node_modules/vnu-jar/build/dist/vnu.jar")
)

NewPage = Callable[..., Page]


@dataclass(frozen=True)
class LiveServer:
    """Where the live app answers, e.g. ``http://127.0.0.1:41234``."""

    url: str


@pytest.fixture
def app_config(tmp_path: Path) -> dict:
    """The test configuration; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SITE_URL": SITE_URL,
        "OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "OUTBOX_KEY": OUTBOX_KEY,
        "RATELIMIT_ENABLED": False,
        # Each test's own counters, in the production default's kind of store.
        "RATELIMIT_STORAGE_URI": f"sqlite://{tmp_path / 'ratelimits.sqlite3'}",
        "MAIL_SERVER": "127.0.0.1",
        # Nothing listens here unless a test starts `smtp_server`.
        "MAIL_PORT": free_port(),
        "MAIL_TIMEOUT": 5,
        "MAIL_DEFAULT_SENDER": "Website <website@clinic.example>",
        "CLINIC_INBOX": "appointments@clinic.example",
    }


@pytest.fixture
def app(app_config: dict):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the real content folder, for breaking on purpose."""
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


@pytest.fixture
def mail_server(app_config: dict):
    """An SMTP server on the app's port, not started: the mail is "down"."""
    server = SMTPServer(app_config["MAIL_PORT"])
    yield server
    server.stop()


@pytest.fixture
def smtp_server(app_config: dict):
    """A running SMTP server; the app (created after this) sends to it."""
    server = SMTPServer(app_config["MAIL_PORT"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server_url(app) -> Iterator[str]:
    """This test's app over real HTTP on a free loopback port."""
    with serving(app) as url:
        yield url


# --- The real app over real HTTP, and a real browser (tests/test_browser_*.py) ---

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # This machine has no network: without these, Chromium keeps dialling out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def live_smtp_server() -> Iterator[SMTPServer]:
    """The live app's mail relay: a real SMTP server that keeps every message,
    so a browser journey can find the email its form sent."""
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_app_config(tmp_path_factory, live_smtp_server: SMTPServer) -> dict:
    """The live server's configuration; extend it by overriding this fixture
    or adding keys before ``live_app`` is first used."""
    return {
        "TESTING": True,
        "SECRET_KEY": "live-test-secret",
        "OUTBOX_PATH": str(tmp_path_factory.mktemp("live") / "outbox.sqlite3"),
        "OUTBOX_KEY": OUTBOX_KEY,
        "RATELIMIT_ENABLED": False,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": live_smtp_server.port,
        "MAIL_TIMEOUT": 5,
        "MAIL_DEFAULT_SENDER": "Website <website@clinic.example>",
        "CLINIC_INBOX": "appointments@clinic.example",
    }


@pytest.fixture(scope="session")
def live_app(live_app_config: dict):
    """One app for the whole browser session (CSRF stays on, as in production)."""
    return create_app(live_app_config)


@pytest.fixture(scope="session")
def live_server(live_app) -> Iterator[LiveServer]:
    """The app served over HTTP on 127.0.0.1, at a port the OS picks as free."""
    with serving(live_app) as url:
        yield LiveServer(url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, started once for the session (never a downloaded one)."""
    if not CHROMIUM.exists():
        skip_or_fail(
            f"{CHROMIUM} is missing: install it with `apt-get install chromium` "
            "to run the browser tests"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[NewPage]:
    """Open a page in a fresh context (no cookies) with the given viewport and
    context options; relative URLs go to the live server (or ``base_url``).
    Closed after the test."""
    contexts = []

    def open_page(width: int = 1280, height: int = 800, **options) -> Page:
        options.setdefault("base_url", live_server.url)
        context = browser.new_context(
            viewport={"width": width, "height": height}, **options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: NewPage) -> Page:
    """A desktop-sized page in a fresh context."""
    return new_page()


@pytest.fixture(scope="session")
def vnu_jar() -> Path:
    """The Nu HTML Checker's jar (`make test` installs it with npm) and a Java."""
    if not shutil.which("java"):
        skip_or_fail(
            "java is missing: install it with `apt-get install default-jre-headless` "
            "to run the HTML checker"
        )
    if not VNU_JAR.exists():
        skip_or_fail(f"{VNU_JAR} is missing: `make vnu` installs it (needs npm)")
    return VNU_JAR
