"""``make run`` on a busy port: one line naming the port and the variable that
changes it, at once, with no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
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
