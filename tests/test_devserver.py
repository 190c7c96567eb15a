"""``make run``: its site names the port it serves on; ``flask --debug``
commands beside it work; a busy port is one line naming the port and the
variable that changes it, at once, with no traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import requests
from helpers import wait_until
from servers import ROOT
from servers import free_port


def make_run(smtp_port: int, flask_port: int) -> subprocess.CompletedProcess:
    """``make run``'s command, with the ports it would get from the Makefile."""
    env = {**os.environ, "FLASK_RUN_PORT": str(flask_port)}
    return subprocess.run(
        [sys.executable, "-m", "tools.devserver", "--smtp-port", str(smtp_port)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("busy", ["DEV_SMTP_PORT", "FLASK_RUN_PORT"])
def test_make_run_on_a_busy_port_stops_at_once_naming_it(busy):
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        taken = other_server.getsockname()[1]
        ports = {"DEV_SMTP_PORT": free_port(), "FLASK_RUN_PORT": free_port()}
        ports[busy] = taken
        result = make_run(ports["DEV_SMTP_PORT"], ports["FLASK_RUN_PORT"])
    assert result.returncode != 0
    assert result.stdout == "", "no banner for a server it did not start"
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"Port {taken} " in line
    assert f"set {busy} to another port" in line


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def flask_debug(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """A `flask --debug` command in the checkout, as a developer types it."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--debug", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_run_names_its_own_port_and_flask_debug_commands_work_beside_it(
    tmp_path,
):
    port = free_port()
    # The developer's shell: nothing set but what `make run` is given.
    env = {
        "PATH": os.environ["PATH"],
        "FLASK_RUN_PORT": str(port),
        "FLASK_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "FLASK_RATELIMIT_STORAGE_URI": f"sqlite://{tmp_path / 'limits.sqlite3'}",
    }
    command = [sys.executable, "-m", "tools.devserver", "--smtp-port"]
    server = subprocess.Popen(
        [*command, str(free_port())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the reloader's child goes with it
    )
    try:
        sitemap = f"http://127.0.0.1:{port}/sitemap.xml"
        assert wait_until(lambda: answers(sitemap), timeout=60)
        text = requests.get(sitemap, timeout=5).text
        assert f"<loc>http://127.0.0.1:{port}/en/immunotherapy</loc>" in text
        assert "127.0.0.1:5000" not in text

        # Another terminal, with the README's one addition: --debug.
        beside = {"PATH": env["PATH"], "FLASK_OUTBOX_PATH": env["FLASK_OUTBOX_PATH"]}
        status = flask_debug(beside, "outbox", "status")
        assert status.returncode == 0, status.stderr
        assert "queued: 0" in status.stdout
        check = flask_debug(beside, "content", "check")
        assert check.returncode == 0, check.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
