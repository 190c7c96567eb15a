"""docs/deploy.md works: its env file starts the site, and its nginx site,
run for real on 127.0.0.1 in front of gunicorn, does what the guide says.
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import ROOT
from servers import free_port
from servers import gunicorn
from servers import run

from app import create_app
from app.security import HEADERS
from app.security import STRICT_TRANSPORT_SECURITY

GUIDE = ROOT / "docs" / "deploy.md"
HOST = "immunotherapy.example.org"
CONFIG_KEYS = [
    "SECRET_KEY",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER",
    "MAIL_TIMEOUT",
    "CLINIC_INBOX",
    "OUTBOX_PATH",
    "CONTENT_DIR",
    "TRUSTED_PROXIES",
    "RATELIMIT_ENABLED",
    "RATELIMIT_STORAGE_URI",
    "SESSION_COOKIE_SECURE",
    "FREEZER_BASE_URL",
]


def guide_files() -> dict[str, str]:
    """Each code block of the guide that starts with ``# /path``, by path."""
    blocks = re.findall(
        r"```\w*\n# (/[^\s:]+)[^\n]*\n(.*?)```", GUIDE.read_text(), re.S
    )
    return {path: body for path, body in blocks}


def guide_env(tmp_path: Path) -> dict[str, str]:
    """The guide's env file, read as systemd and the shell read it."""
    env = {}
    for line in guide_files()["/etc/clinic-site/env"].splitlines():
        if line.strip() and not line.startswith("#"):
            ((key, value),) = [shlex.split(line)[0].split("=", 1)]
            env[key] = value
    # Paths of the server, moved into this test's folders.
    env["FLASK_OUTBOX_PATH"] = str(tmp_path / "state" / "outbox.sqlite3")
    env["FLASK_CONTENT_DIR"] = str(ROOT / "content")
    return env


def test_the_env_file_sets_every_setting():
    env = guide_env(Path("/nonexistent"))
    assert sorted(env) == sorted(f"FLASK_{key}" for key in CONFIG_KEYS)


def test_the_env_file_passes_the_start_up_checks(tmp_path, monkeypatch):
    for key, value in guide_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    app = create_app()
    assert app.config["TRUSTED_PROXIES"] == 1
    assert app.config["MAIL_USE_TLS"] is True


def test_nginx_sends_the_same_headers_as_the_app():
    snippet = guide_files()["/etc/nginx/snippets/clinic-site-headers.conf"]
    headers = dict(re.findall(r'add_header (\S+) "([^"]*)" always;', snippet))
    assert headers == {
        **HEADERS,
        "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY,
    }


def test_the_systemd_units_are_valid(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("needs systemd-analyze")
    units = []
    for path, body in guide_files().items():
        if path.startswith("/etc/systemd/system/"):
            # The server's paths, moved to this checkout so the programs exist.
            body = body.replace("/srv/clinic-site/venv", str(Path(sys.prefix)))
            body = body.replace("/srv/clinic-site/app", str(ROOT))
            units.append(tmp_path / Path(path).name)
            units[-1].write_text(body)
    assert {unit.name for unit in units} == {
        "clinic-site.service",
        "clinic-site-deliver.service",
        "clinic-site-deliver.timer",
        "clinic-site-freeze.service",
    }
    result = run(["systemd-analyze", "verify", "--man=no", *map(str, units)], {})
    # Unknown keys and bad values are only warnings: none may appear.
    assert (result.returncode, result.stderr) == (0, "")


# --- The nginx site, running --------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """The guide's nginx files in a private prefix, on free loopback ports."""

    def __init__(self, tmp_path: Path, build: Path, app_socket: Path) -> None:
        """Write nginx.conf and the snippets into ``tmp_path``."""
        self.dir = tmp_path
        self.http, self.https = free_port(), free_port()
        self.cert = self._certificate()
        files = guide_files()
        site = self._localise(
            files["/etc/nginx/sites-available/clinic-site"], build, app_socket
        )
        (tmp_path / "snippets").mkdir()
        for name in ("clinic-site-headers.conf", "clinic-site-proxy.conf"):
            (tmp_path / "snippets" / name).write_text(
                files[f"/etc/nginx/snippets/{name}"]
            )
        temp = "".join(
            f"{kind}_temp_path {tmp_path}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
            # Workers must reach the test's private folders.
            + ("user root;\n" if os.geteuid() == 0 else "")
            + "events {}\nhttp {\ninclude /etc/nginx/mime.types;\n"
            + f"{temp}access_log off;\n"
            + files["/etc/nginx/conf.d/clinic-site-limits.conf"]
            + site
            + "}\n"
        )

    def _certificate(self) -> Path:
        """A self-signed certificate for HOST, as certbot would provide."""
        cert, key = self.dir / "fullchain.pem", self.dir / "privkey.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        return cert

    def _localise(self, site: str, build: Path, app_socket: Path) -> str:
        """The site file with this test's ports and paths for the server's."""
        site = re.sub(r"\n\s*listen \[::\]:.*;", "", site)
        site = re.sub(r"listen 80\b", f"listen 127.0.0.1:{self.http}", site)
        site = re.sub(r"listen 443\b", f"listen 127.0.0.1:{self.https}", site)
        for server_path, local in {
            f"/etc/letsencrypt/live/{HOST}/": f"{self.dir}/",
            "/run/clinic-site/gunicorn.sock": str(app_socket),
            "/srv/clinic-site/build": str(build),
            "/var/www/letsencrypt": str(self.dir / "acme"),
        }.items():
            site = site.replace(server_path, local)
        return site

    def wait_until_listening(self, process: subprocess.Popen) -> None:
        """Return once nginx accepts connections, or fail with its error log."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.https), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError((self.dir / "error.log").read_text())

    def command(self, *args: str) -> list[str]:
        """nginx with this prefix and configuration."""
        return [NGINX, "-p", f"{self.dir}/", "-c", str(self.dir / "nginx.conf"), *args]

    def request(self, method: str, path: str, *, tls=True, host=HOST, body=None):
        """One request as a browser on the internet would send it."""
        port = self.https if tls else self.http
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            context = ssl.create_default_context(cafile=str(self.cert))
            sock = context.wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.sock = sock
        connection.request(method, path, body=body, headers={"Host": host})
        response = connection.getresponse()
        response.body = response.read()
        connection.close()
        return response


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The guide's set-up: frozen build, gunicorn on a Unix socket, nginx."""
    if not os.path.exists(NGINX) or not shutil.which("openssl"):
        pytest.skip("needs nginx and openssl (apt-get install nginx-light openssl)")
    tmp_path = tmp_path_factory.mktemp("deploy")
    env = {"PATH": "/usr/bin:/bin", "FLASK_APP": "app", **guide_env(tmp_path)}
    # The app's own, stricter limit would answer first; these tests prove
    # nginx's limit_req, the outer guard.
    env["FLASK_RATELIMIT_ENABLED"] = "false"
    build = tmp_path / "build"
    frozen = run(
        [sys.executable, "-m", "flask", "freeze", "--destination", str(build)], env
    )
    assert frozen.returncode == 0, frozen.stderr
    nginx = Nginx(tmp_path, build, tmp_path / "gunicorn.sock")
    checked = run(nginx.command("-t"), env)
    assert checked.returncode == 0, checked.stderr
    with gunicorn(
        env, tmp_path / "gunicorn.log", unix_socket=tmp_path / "gunicorn.sock"
    ) as app:
        process = subprocess.Popen(nginx.command("-g", "daemon off;"))
        try:
            nginx.wait_until_listening(process)
            nginx.app = app
            yield nginx
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_plain_http_redirects_to_https_on_the_same_name(site):
    response = site.request("GET", "/en/immunotherapy?x=1", tls=False)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/en/immunotherapy?x=1"


def test_pages_come_from_the_app_over_https(site):
    response = site.request("GET", "/es/inmunoterapia")
    assert response.status == 200
    # The app saw HTTPS and the public name through nginx's headers.
    assert response.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    assert f'href="https://{HOST}/es/inmunoterapia"' in response.body.decode()
    assert "Secure" in response.headers["Set-Cookie"]
    for name in HEADERS:
        assert len(response.headers.get_all(name)) == 1, f"{name} sent twice"
    assert response.headers["Server"] == "nginx", "no version number"


def test_static_files_come_from_the_build_with_the_same_headers(site):
    page = site.request("GET", "/en/immunotherapy").body.decode()
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert re.fullmatch(r"/static/site\.[0-9a-f]{8}\.css", stylesheet)
    response = site.request("GET", stylesheet)
    assert response.status == 200
    assert response.body == (ROOT / "app" / "static" / "site.css").read_bytes()
    for name, value in {
        **HEADERS,
        "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY,
        "Cache-Control": "public, max-age=31536000, immutable",
    }.items():
        assert response.headers.get_all(name) == [value]
    assert stylesheet not in site.app.log(), "nginx served it, not the app"


def test_bodies_slightly_over_the_limit_reach_the_app_and_huge_ones_do_not(site):
    slightly = site.request("POST", "/en/immunotherapy", body=b"x" * 100_000)
    # The app's own answer, in its layout (413 once a route reads the body).
    assert slightly.status in (405, 413)
    assert b'<html lang="en">' in slightly.body
    huge = site.request("POST", "/en/immunotherapy", body=b"x" * 200_000)
    assert huge.status == 413
    assert b"<center>nginx</center>" in huge.body, "nginx's own page"
    posts = [line for line in site.app.log().splitlines() if "POST /en/immun" in line]
    assert len(posts) == 1, "only the first body reached the app"


def test_form_posts_are_rate_limited_and_page_views_are_not(site):
    for _ in range(15):
        assert site.request("GET", "/es/solicitar-cita").status == 200
    statuses = [site.request("POST", "/es/solicitar-cita").status for _ in range(12)]
    assert 429 not in statuses[:11]
    assert statuses[11] == 429


def test_other_host_names_get_no_answer(site):
    with pytest.raises(ssl.SSLError):
        site.request("GET", "/en/immunotherapy", host="elsewhere.example")
    with pytest.raises(http.client.RemoteDisconnected):
        site.request("GET", "/en/immunotherapy", tls=False, host="elsewhere.example")
