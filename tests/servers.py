"""Start the site as an operator would: gunicorn or flask in a subprocess.

Only on 127.0.0.1, on a port picked free for each start.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(wsgi_app) -> Iterator[str]:
    """``wsgi_app`` over real HTTP on a free loopback port, in this process.

    Stopping does not wait out the server's poll: a connection wakes its
    loop as soon as shutdown is asked for."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        stopping = threading.Thread(target=server.shutdown)
        stopping.start()
        while stopping.is_alive():
            try:
                socket.create_connection(server.server_address, timeout=1).close()
            except OSError:
                break  # the listening socket is gone: the loop has ended
            stopping.join(timeout=0.05)
        stopping.join()
        server.server_close()
        thread.join()


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A complete production environment, as the deployment's env file has it.

    Its outbox does not exist yet: ``init_outbox`` makes it, as the deploy
    guide's `flask outbox init` does (``gunicorn`` below calls it)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "FLASK_APP": "app",
        "FLASK_SECRET_KEY": "a-production-secret",
        "FLASK_SITE_URL": "https://immunotherapy.example.org",
        "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_DEFAULT_SENDER": "Website <website@example.org>",
        "FLASK_CLINIC_INBOX": "appointments@example.org",
        "FLASK_OUTBOX_PATH": str(tmp_path / "outbox" / "outbox.sqlite3"),
        "FLASK_OUTBOX_KEY": Fernet.generate_key().decode(),
        "FLASK_RATELIMIT_STORAGE_URI": f"sqlite://{tmp_path / 'ratelimits.sqlite3'}",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a command from the repository root to completion."""
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def init_outbox(env: dict[str, str], python: str = sys.executable) -> None:
    """`flask outbox init`, once, as the deploy guide runs it."""
    if Path(env["FLASK_OUTBOX_PATH"]).exists():
        return
    ran = run([python, "-m", "flask", "--app", "app", "outbox", "init"], env)
    if ran.returncode:
        raise RuntimeError(f"flask outbox init failed:\n{ran.stderr}")


def gunicorn_command(*args: str) -> list[str]:
    """gunicorn with the repository's gunicorn.conf.py, as systemd starts it."""
    return [sys.executable, "-m", "gunicorn", "--workers", "1", *args]


@dataclass
class Server:
    """A running server: its address and the log it writes to stderr."""

    url: str
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        """Everything the server has written to stderr so far."""
        return self.log_path.read_text()


@contextmanager
def gunicorn(
    env: dict[str, str],
    log_path: Path,
    unix_socket: Path | None = None,
    workers: int = 1,
) -> Iterator[Server]:
    """gunicorn serving the site until the block ends, on TCP or a Unix socket."""
    init_outbox(env)
    if unix_socket:
        bind, address, url = f"unix:{unix_socket}", str(unix_socket), ""
    else:
        port = free_port()
        bind, address = f"127.0.0.1:{port}", ("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            gunicorn_command("--bind", bind, "--workers", str(workers)),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, log_path, process)
    try:
        _wait_until_listening(address, server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_listening(address: str | tuple[str, int], server: Server) -> None:
    """Return once ``address`` accepts connections; fail if gunicorn exits."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{server.log()}")
        try:
            with socket.socket(family) as sock:
                sock.settimeout(1)
                sock.connect(address)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not start listening:\n{server.log()}")
