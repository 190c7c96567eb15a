"""Shared fixtures: the app, its test client and CLI runner, a live HTTP
server for it, and a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from email import message_from_bytes
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from app import create_app
from app.content import DEFAULT_CONTENT_DIR


@pytest.fixture
def app_config(tmp_path: Path) -> dict:
    """The test configuration; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "RATELIMIT_ENABLED": False,
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


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd cannot take port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One message as the SMTP server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps every message it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Block until ``count`` messages have arrived (delivery is async)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again."""

    def __init__(self, port: int, **controller_options) -> None:
        self.port = port
        self.handler = RecordingHandler()
        self._options = controller_options
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self._options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@pytest.fixture
def smtp_server(app_config: dict):
    """A running SMTP server; the app (created after this) sends to it."""
    server = SMTPServer(app_config["MAIL_PORT"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_server(app):
    """The real app over real HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
