"""``make preview``: the production shape on one machine.

Freezes the site into a private folder and precompresses it, generates an
nginx configuration from the real files under ``deploy/nginx/`` (only the
server's paths and the listening address change), and starts nginx on
``127.0.0.1:$PREVIEW_PORT`` (default 8080) in front of gunicorn on a loopback
port, with the development SMTP sink of ``make run`` printing each email.
Ctrl-C or SIGTERM stops all of them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from tools.devserver import PrintingHandler
from tools.devserver import dev_environment
from tools.devserver import require_free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_NGINX = ROOT / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
# The server's paths and gunicorn's address in deploy/, and what the preview
# puts there.
BUILD_PATH = "/srv/clinic-site/build"
LOG_PATH = "/var/log/nginx/"
APP_ADDRESS = "127.0.0.1:8000"
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass
class Preview:
    """A running preview: where it answers and what it runs."""

    dir: Path
    port: int
    env: dict[str, str]
    nginx: subprocess.Popen
    app_port: int
    app: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The address to open, e.g. http://127.0.0.1:8080."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def build(self) -> Path:
        """The frozen, precompressed site nginx serves."""
        return self.dir / "build"

    @property
    def logs(self) -> Path:
        """Every log the preview writes: nginx's and gunicorn's."""
        return self.dir / "logs"

    @property
    def app_bind(self) -> str:
        """gunicorn's address, as deploy/'s APP_ADDRESS on the server."""
        return f"127.0.0.1:{self.app_port}"

    def start_app(self) -> None:
        """Start gunicorn on its port; wait until it listens."""
        log = (self.logs / "gunicorn.log").open("ab")
        self.app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                f"--config={ROOT / 'gunicorn.conf.py'}",
                f"--bind={self.app_bind}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self.app, ("127.0.0.1", self.app_port), self.logs / "gunicorn.log")

    def stop_app(self) -> None:
        """Stop gunicorn (gracefully); nginx keeps serving the build."""
        if self.app is not None:
            stop(self.app)
            self.app = None


def preview_env(directory: Path, port: int, smtp_port: int) -> dict[str, str]:
    """Production settings for this machine: throwaway keys and outbox."""
    env = {
        **os.environ,
        **dev_environment(smtp_port),
        "FLASK_SECRET_KEY": secrets.token_hex(32),
        "FLASK_OUTBOX_PATH": str(directory / "outbox" / "outbox.sqlite3"),
        "FLASK_OUTBOX_KEY": Fernet.generate_key().decode(),
        "FLASK_SITE_URL": f"http://127.0.0.1:{port}",
        # nginx is the one proxy in front, as in production.
        "FLASK_TRUSTED_PROXIES": "1",
    }
    env.pop("FLASK_DEBUG", None)
    return env


def flask(env: dict[str, str], *args: str) -> None:
    """Run a ``flask`` command to completion; stop with its errors if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"flask {args[0]} failed:\n{result.stderr}")


def freeze(env: dict[str, str], build: Path) -> None:
    """``flask freeze`` into ``build`` (it writes the .gz and .br copies too)."""
    warn_until_ready_to_launch(env)
    flask(env, "freeze", "--destination", str(build))


def warn_until_ready_to_launch(env: dict[str, str]) -> None:
    """Print what ``flask content check --launch`` still lists, as a warning:
    a preview is not a launch, so it goes on."""
    check = [sys.executable, "-m", "flask", "content", "check", "--launch"]
    result = subprocess.run(check, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        print(f"Warning: {result.stderr.strip()}", file=sys.stderr)


def localise(text: str, directory: Path, app_port: int) -> str:
    """``text`` with the server's paths moved into ``directory`` and gunicorn
    on ``app_port``."""
    for server_path, local in {
        BUILD_PATH: str(directory / "build"),
        LOG_PATH: f"{directory}/logs/",
        APP_ADDRESS: f"127.0.0.1:{app_port}",
    }.items():
        text = text.replace(server_path, local)
    if not BROTLI_MODULE.exists():
        text = text.replace("brotli_static on;", "")
    return text


def deploy_nginx_files() -> list[Path]:
    """The files under deploy/nginx/ that nginx reads through an include (the
    site file holds the public servers, which the preview replaces with its
    own)."""
    return list(DEPLOY_NGINX.rglob("*.conf"))


def check_packages() -> None:
    """Stop, naming the Debian package, when nginx is missing; say so when
    brotli_static is (the preview then serves .gz copies only). Called
    before anything else prints, so this is the line a newcomer sees first."""
    if not os.path.exists(NGINX):
        raise SystemExit(
            "make preview needs nginx: sudo apt-get install nginx-light "
            "libnginx-mod-http-brotli-static (README, Commands)"
        )
    if not BROTLI_MODULE.exists():
        print(
            "No brotli_static, so no .br copies: "
            "sudo apt-get install libnginx-mod-http-brotli-static",
            file=sys.stderr,
            flush=True,
        )


def write_nginx_config(directory: Path, servers: str, app_port: int) -> Path:
    """nginx.conf in ``directory`` around copies of deploy/nginx's own files,
    with gunicorn on ``app_port``; logs in ``directory``/logs.

    ``servers`` are the server blocks; they include the site's snippets.
    """
    for source in deploy_nginx_files():
        target = directory / source.relative_to(DEPLOY_NGINX)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(localise(source.read_text(), directory, app_port))
    (directory / "temp").mkdir(exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    temp_paths = "".join(
        f"    {kind}_temp_path {directory}/temp/{kind};\n" for kind in TEMP_PATHS
    )
    conf = directory / "nginx.conf"
    conf.write_text(
        (f"load_module {BROTLI_MODULE};\n" if BROTLI_MODULE.exists() else "")
        # As root, workers would run as nobody, who cannot reach this folder.
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"""worker_processes auto;
include modules-enabled/50-clinic-site.conf;
pid {directory}/nginx.pid;
error_log {directory}/logs/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
{temp_paths}    include conf.d/clinic-site.conf;
{servers}
}}
"""
    )
    return conf


def preview_server(directory: Path, port: int) -> str:
    """The preview's one server: plain HTTP on loopback, the site's snippet."""
    return f"""    server {{
        listen 127.0.0.1:{port};
        access_log {directory}/logs/nginx-access.log clinic_site buffer=32k flush=1s;
        error_log {directory}/logs/nginx-error.log crit;
        include snippets/clinic-site.conf;
    }}"""


def nginx_command(directory: Path, *args: str) -> list[str]:
    """nginx with the preview's prefix and configuration."""
    return [
        NGINX,
        "-p",
        f"{directory}/",
        "-c",
        str(directory / "nginx.conf"),
        "-e",
        str(directory / "logs" / "nginx-error.log"),
        *args,
    ]


@contextlib.contextmanager
def running(
    port: int,
    directory: Path | None = None,
    *,
    workers: int | None = None,
    settings: dict[str, str] | None = None,
    smtp_handler: object | None = None,
) -> Iterator[Preview]:
    """The whole preview until the block ends: SMTP sink, build, gunicorn, nginx.

    ``settings`` override the environment's (e.g. FLASK_RATELIMIT_ENABLED);
    ``smtp_handler`` replaces the sink that prints every email.
    """
    check_packages()
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        directory.mkdir(parents=True, exist_ok=True)
        smtp_port = _free_port()
        sink = Controller(
            smtp_handler or PrintingHandler(), hostname="127.0.0.1", port=smtp_port
        )
        sink.start()
        stack.callback(sink.stop)
        env = preview_env(directory, port, smtp_port)
        env.update(settings or {})
        if workers:
            env["WEB_CONCURRENCY"] = str(workers)
        freeze(env, directory / "build")
        # As the deploy guide does once: nothing else makes the outbox.
        flask(env, "outbox", "init")
        app_port = _free_port()
        write_nginx_config(directory, preview_server(directory, port), app_port)
        nginx = start_nginx(directory, port)
        preview = Preview(directory, port, env, nginx, app_port)
        stack.callback(preview.stop_app)
        stack.callback(stop, nginx)
        preview.start_app()
        yield preview


def start_nginx(directory: Path, port: int) -> subprocess.Popen:
    """Check the configuration, start nginx, wait until ``port`` answers."""
    checked = subprocess.run(
        nginx_command(directory, "-t", "-q"), capture_output=True, text=True
    )
    if checked.returncode:
        raise SystemExit(f"nginx rejects the configuration:\n{checked.stderr}")
    nginx = subprocess.Popen(
        nginx_command(directory, "-g", "daemon off;"), start_new_session=True
    )
    try:
        # nginx writes its pid file only once it holds the port: until then
        # the port may answer for another server, which is not ours.
        wait_for(nginx, directory / "nginx.pid", directory / "logs" / "nginx-error.log")
        wait_for(nginx, ("127.0.0.1", port), directory / "logs" / "nginx-error.log")
    except BaseException:
        stop(nginx)
        raise
    return nginx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(process: subprocess.Popen, address: str | tuple | Path, log: Path) -> None:
    """Return once ``address`` accepts connections (or, for a Path, holds
    ``process``'s pid); fail with ``log`` if ``process`` ends or 30 s pass."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if _ready(process, address):
            return
        time.sleep(0.05)
    text = log.read_text() if log.exists() else ""
    raise SystemExit(f"{process.args[0]} did not start listening on {address}:\n{text}")


def _ready(process: subprocess.Popen, address: str | tuple | Path) -> bool:
    if isinstance(address, Path):
        with contextlib.suppress(OSError):
            return address.read_text().strip() == str(process.pid)
        return False
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as probe:
        probe.settimeout(1)
        try:
            probe.connect(address)
        except OSError:
            return False
        return True


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group it leads; SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    """Run the preview until Ctrl-C or SIGTERM."""
    port = int(os.environ.get("PREVIEW_PORT", "8080"))
    require_free_port("127.0.0.1", port, "the preview", "PREVIEW_PORT")
    # SIGTERM unwinds like Ctrl-C, so everything started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt), running(port) as preview:
        print(
            f"Preview on {preview.url}/ : nginx serves the frozen build from "
            f"{preview.build} and the language redirects, gunicorn (on "
            f"{preview.app_bind}) the form; emails appear here. "
            f"Logs in {preview.logs}. "
            "Ctrl-C stops it all.",
            flush=True,
        )
        told = False
        # gunicorn stopping is a restart to rehearse: nginx keeps serving the
        # pages, and the form shows nginx's 502 page until Ctrl-C.
        while preview.nginx.poll() is None:
            if preview.app.poll() is not None and not told:
                print(
                    "gunicorn stopped: nginx still serves every page; the form "
                    "answers with the 502 page. Ctrl-C stops the preview.",
                    flush=True,
                )
                told = True
            time.sleep(0.5)
        # Its folder goes with the preview: what it said, before that.
        log = preview.logs / "nginx-error.log"
        raise SystemExit(f"nginx stopped:\n{log.read_text() if log.exists() else ''}")


if __name__ == "__main__":
    main()
