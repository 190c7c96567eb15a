"""The deploy guide's real files (deploy/) work: the env example starts the
site, the systemd units are valid, and the nginx site, run for real on
127.0.0.1 with TLS in front of gunicorn, does what docs/deploy.md says.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shlex
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import cookies_without_expires
from helpers import sections_by_language
from helpers import skip_or_fail
from html_checker import check_html
from log_files import assert_no_visitor_in
from log_files import wait_for_line
from log_files import wait_for_lines
from servers import ROOT
from servers import free_port
from servers import gunicorn
from servers import run

from app import create_app
from app.content import LANGUAGES
from app.errors import STATIC_URLS
from app.security import HEADERS
from app.security import STRICT_TRANSPORT_SECURITY
from tools import preview as preview_tool

GUIDE = ROOT / "docs" / "deploy.md"
DEPLOY = ROOT / "deploy"
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
    "OUTBOX_KEY",
    "CONTENT_DIR",
    "TRUSTED_PROXIES",
    "RATELIMIT_ENABLED",
    "RATELIMIT_STORAGE_URI",
    "SESSION_COOKIE_SECURE",
    "SITE_URL",
    "TRUSTED_HOSTS",
    "OUTBOX_ALERT_SECONDS",
]


def deploy_files() -> dict[Path, str]:
    """Every file under deploy/, by the server path its first line names."""
    files = {}
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            # The first comment after any #! line names it.
            files[path] = re.search(r"^(?:#|//) (/[^\s:]+)", path.read_text(), re.M)[1]
    return files


def example_env(tmp_path: Path) -> dict[str, str]:
    """deploy/env.example, read as systemd and the shell read it."""
    env = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            ((key, value),) = [shlex.split(line)[0].split("=", 1)]
            env[key] = value
    # Paths of the server, moved into this test's folders.
    env["FLASK_OUTBOX_PATH"] = str(tmp_path / "state" / "outbox.sqlite3")
    env["FLASK_CONTENT_DIR"] = str(ROOT / "content")
    return env


def test_the_guide_installs_every_file_of_deploy_where_its_first_line_says():
    guide = GUIDE.read_text()
    for path, server_path in deploy_files().items():
        name = str(path.relative_to(ROOT))
        assert name in guide, f"docs/deploy.md never mentions {name}"
        assert server_path in guide, f"docs/deploy.md never mentions {server_path}"
    for mentioned in set(re.findall(r"\bdeploy/[\w./-]*\w", guide)):
        assert (ROOT / mentioned).exists(), f"docs/deploy.md names {mentioned}"


def test_the_flask_wrapper_is_an_executable_shell_script():
    wrapper = DEPLOY / "bin" / "clinic-site-flask"
    assert os.access(wrapper, os.X_OK)
    assert run(["sh", "-n", str(wrapper)], {}).returncode == 0


def test_the_env_example_sets_every_setting():
    env = example_env(Path("/nonexistent"))
    assert sorted(env) == sorted(f"FLASK_{key}" for key in CONFIG_KEYS)


def test_the_env_example_passes_the_start_up_checks(tmp_path, monkeypatch):
    for key, value in example_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    app = create_app()
    assert app.config["TRUSTED_PROXIES"] == 1
    assert app.config["MAIL_USE_TLS"] is True


def test_nginx_sends_the_same_headers_as_the_app():
    snippet = (DEPLOY / "nginx/snippets/clinic-site-headers.conf").read_text()
    headers = dict(re.findall(r'add_header (\S+) "([^"]*)" always;', snippet))
    assert headers == {
        **HEADERS,
        "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY,
    }


def test_the_systemd_units_are_valid(tmp_path):
    if not shutil.which("systemd-analyze"):
        skip_or_fail("needs systemd-analyze (apt-get install systemd)")
    units = []
    for path in (DEPLOY / "systemd").iterdir():
        # The server's paths, moved to this checkout so the programs exist.
        body = path.read_text()
        body = body.replace("/srv/clinic-site/venv", str(Path(sys.prefix)))
        body = body.replace("/srv/clinic-site/app", str(ROOT))
        units.append(tmp_path / path.name)
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


def test_no_unit_can_leave_a_core_file():
    """A core file would hold whatever a process had in memory: requests."""
    for unit in (DEPLOY / "systemd").glob("*.service"):
        assert "\nLimitCORE=0\n" in unit.read_text(), unit.name
    assert "-p LimitCORE=0" in (DEPLOY / "bin" / "clinic-site-flask").read_text()


def test_gunicorn_listens_on_loopback_where_nginx_looks_for_it():
    unit = (DEPLOY / "systemd" / "clinic-site.service").read_text()
    upstream = (DEPLOY / "nginx/conf.d/clinic-site.conf").read_text()
    bind = f"--bind {preview_tool.APP_ADDRESS}"
    assert re.search(rf"^ExecStart=.*gunicorn .*{re.escape(bind)}$", unit, re.M)
    assert f"server {preview_tool.APP_ADDRESS};" in upstream
    assert preview_tool.APP_ADDRESS.startswith("127.0.0.1:")


# --- The nginx site with TLS, running ---------------------------------------


class Site:
    """deploy/nginx's site with a private prefix, on free loopback ports."""

    def __init__(self, directory: Path, app_port: int) -> None:
        """Write nginx.conf and the snippets into ``directory``, with gunicorn
        on ``app_port``."""
        self.dir = directory
        self.http, self.https = free_port(), free_port()
        self.cert = self._certificate()
        site = (DEPLOY / "nginx/sites-available/clinic-site").read_text()
        site = re.sub(r"\n\s*listen \[::\]:.*;", "", site)
        site = re.sub(r"listen 80\b", f"listen 127.0.0.1:{self.http}", site)
        site = re.sub(r"listen 443\b", f"listen 127.0.0.1:{self.https}", site)
        # Unbuffered: each nginx worker keeps its own log buffer, so one
        # flushed line would not tell the tests that another worker's is.
        site = re.sub(r" buffer=\S+ flush=\S+;", ";", site)
        for server_path, local in {
            f"/etc/letsencrypt/live/{HOST}/": f"{directory}/",
            "/var/www/letsencrypt": str(directory / "acme"),
            "/var/log/nginx/": f"{directory}/",
            "/srv/clinic-site/build": str(directory / "build"),
        }.items():
            site = site.replace(server_path, local)
        # Debian's nginx.conf logs every request of a server that sets no log
        # of its own, with the client's address and the query string.
        http_logs = (
            f"access_log {directory}/access.log;\nerror_log {directory}/error.log;\n"
        )
        preview_tool.write_nginx_config(directory, http_logs + site, app_port)

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

    def connect(self, *, tls=True, host=HOST, source="127.0.0.1", tls_max=None):
        """A connection as a browser on the internet opens it."""
        port = self.https if tls else self.http
        sock = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        if tls:
            context = ssl.create_default_context(cafile=str(self.cert))
            if tls_max:
                context.maximum_version = tls_max
            sock = context.wrap_socket(sock, server_hostname=host)
        return sock

    def raw(self, request: bytes, *, tls=True):
        """What nginx answers to ``request`` as sent, bytes and all."""
        sock = self.connect(tls=tls)
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.body = response.read()
        sock.close()
        return response

    def request(
        self, method: str, path: str, *, tls=True, host=HOST, body=None, source=None
    ):
        """One request as a browser on the internet would send it."""
        port = self.https if tls else self.http
        sock = self.connect(tls=tls, host=host, source=source or "127.0.0.1")
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
    if not os.path.exists(preview_tool.NGINX) or not shutil.which("openssl"):
        skip_or_fail("needs nginx and openssl (apt-get install nginx-light openssl)")
    tmp_path = tmp_path_factory.mktemp("deploy")
    env = {"PATH": "/usr/bin:/bin", "FLASK_APP": "app", **example_env(tmp_path)}
    # The app's own, stricter limit would answer first; these tests prove
    # nginx's limit_req, the outer guard.
    env["FLASK_RATELIMIT_ENABLED"] = "false"
    preview_tool.freeze(env, tmp_path / "build")
    with gunicorn(env, tmp_path / "gunicorn.log") as app:
        site = Site(tmp_path, urlsplit(app.url).port)
        nginx = preview_tool.start_nginx(tmp_path, site.https)
        try:
            site.app = app
            yield site
        finally:
            preview_tool.stop(nginx)


def assert_nginx_error_page(response, site, code: int) -> None:
    """nginx's bilingual page from the build, with the security headers."""
    assert response.status == code
    assert response.body == (site.dir / "build/errors" / f"{code}.html").read_bytes()
    for name, value in {
        **HEADERS,
        "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY,
    }.items():
        assert response.headers.get_all(name) == [value], name


def test_plain_http_redirects_to_https_on_the_same_name(site):
    response = site.request("GET", "/en/immunotherapy?x=1", tls=False)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/en/immunotherapy?x=1"


def test_pages_come_from_the_build_over_https(site):
    response = site.request("GET", "/es/inmunoterapia")
    assert response.status == 200
    assert response.body == (site.dir / "build/es/inmunoterapia").read_bytes()
    assert f'href="https://{HOST}/es/inmunoterapia"' in response.body.decode()
    for name, value in {
        **HEADERS,
        "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY,
    }.items():
        assert response.headers.get_all(name) == [value], name
    assert response.headers["Server"] == "nginx", "no version number"
    assert "/es/inmunoterapia" not in site.app.log(), "nginx served it, not the app"


def test_the_language_cookie_is_the_apps_over_https(site):
    client = create_app({"TESTING": True, "SECRET_KEY": "x"}).test_client()
    from_app = client.get("/es/inmunoterapia", base_url=f"https://{HOST}")
    response = site.request("GET", "/es/inmunoterapia")
    assert cookies_without_expires(response.headers) == cookies_without_expires(
        from_app.headers
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_form_comes_from_the_app_which_sees_https(site):
    response = site.request("GET", "/en/request-appointment")
    assert response.status == 200
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    for name in HEADERS:
        assert len(response.headers.get_all(name)) == 1, f"{name} sent twice"


def test_bodies_slightly_over_the_limit_reach_the_app_and_huge_ones_do_not(site):
    slightly = site.request("POST", "/en/request-appointment", body=b"x" * 100_000)
    # The app's own answer, in its layout and the visitor's language.
    assert slightly.status == 413
    assert b'<html lang="en">' in slightly.body
    assert b'<section lang="es">' not in slightly.body
    huge = site.request("POST", "/en/request-appointment", body=b"x" * 200_000)
    assert_nginx_error_page(huge, site, 413)
    posts = [line for line in site.app.log().splitlines() if "POST /en/request" in line]
    assert len(posts) == 1, "only the first body reached the app"


def test_a_flood_of_form_posts_gets_nginxs_bilingual_429(site):
    limits = (DEPLOY / "nginx/snippets/clinic-site.conf").read_text()
    burst = int(re.search(r"zone=clinic_site_posts burst=(\d+)", limits)[1])
    for _ in range(5):
        assert site.request("GET", "/es/solicitar-cita").status == 200
    statuses = []
    while 429 not in statuses and len(statuses) < burst + 5:
        statuses.append(site.request("POST", "/es/solicitar-cita").status)
    # The burst passes (less the one POST an earlier test sent).
    assert statuses.index(429) >= burst - 1, statuses
    flooded = site.request("POST", "/es/solicitar-cita")
    assert_nginx_error_page(flooded, site, 429)
    assert flooded.headers["Retry-After"] == "60"
    assert site.request("GET", "/es/solicitar-cita").status == 200, "views pass"


def test_other_host_names_get_no_answer(site):
    with pytest.raises(ssl.SSLError):
        site.request("GET", "/en/immunotherapy", host="elsewhere.example")
    with pytest.raises(http.client.RemoteDisconnected):
        site.request("GET", "/en/immunotherapy", tls=False, host="elsewhere.example")


def test_every_handshake_is_tls_1_3_or_1_2(site):
    """The default server (unknown names) decides the protocol of the port."""
    with site.connect() as sock:
        assert sock.version() == "TLSv1.3"
    with site.connect(tls_max=ssl.TLSVersion.TLSv1_2) as sock:
        assert sock.version() == "TLSv1.2"


def test_nothing_a_visitor_does_puts_their_address_or_query_in_a_log(site):
    query = "?name=Maria+Lopez&dob=1958-03-27"
    host = f"Host: {HOST}\r\n".encode()
    site.request("GET", f"/en/no-such-page{query}")
    site.request("GET", f"/es/no-such-page{query}")
    site.request("GET", f"/static/missing.css{query}")
    site.request("GET", f"/healthz{query}", source="127.0.0.2")
    site.request("GET", f"/healthz/delivery{query}", source="127.0.0.2")
    site.request("GET", f"/en/immunotherapy{query}", tls=False)
    site.request("GET", f"/{query}")
    site.request("POST", f"/en/request-appointment{query}", body=b"x" * 200_000)
    site.raw(b"TRACE /" + query.encode() + b" HTTP/1.1\r\n" + host + b"\r\n")
    site.raw(b"GET /" + query.encode() + b" HTTP/1.1\r\n" + host * 2 + b"\r\n")
    site.raw(b"GET /" + b"a" * 9000 + query.encode() + b" HTTP/1.1\r\n\r\n")
    site.raw(b"GET /" + query.encode() + b" HTTP/1.1\r\n" + host + b"Cookie: "
             + b"c" * 9000 + b"\r\n\r\n")  # fmt: skip
    with pytest.raises(ssl.SSLError):
        site.request("GET", f"/{query}", host="elsewhere.example")
    # A last request, to know the buffered access log is written.
    site.request("GET", "/en/privacy?utm=x")
    wait_for_line(site.dir / "clinic-site.access.log", '"GET /en/privacy" 200')
    logs = assert_no_visitor_in(site.dir, ("127.0.0.", "Maria", "utm"))
    assert "clinic-site.access.log" in logs
    assert '"GET /en/no-such-page" 404' in logs["clinic-site.access.log"]


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: %(host)s\r\nHost: %(host)s\r\n\r\n",
                     400, id="two Host headers"),
        pytest.param(b"GET /\x01 HTTP/1.1\r\nHost: %(host)s\r\n\r\n", 400,
                     id="a control character"),
        pytest.param(b"TRACE / HTTP/1.1\r\nHost: %(host)s\r\n\r\n", 405, id="TRACE"),
        pytest.param(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: %(host)s\r\n\r\n",
                     414, id="a long address"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: %(host)s\r\nCookie: " + b"c" * 9000
                     + b"\r\n\r\n", 431, id="huge cookies"),
    ],
)  # fmt: skip
def test_nginxs_own_refusals_are_the_sites_bilingual_pages(site, request_bytes, code):
    response = site.raw(request_bytes % {b"host": HOST.encode()})
    assert_nginx_error_page(response, site, code)
    assert response.headers["Cache-Control"] == "no-store"
    assert b'<section lang="es">' in response.body


def test_plain_http_refusals_are_the_sites_pages_too(site):
    request = f"TRACE / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    assert_nginx_error_page(site.raw(request, tls=False), site, 405)


@pytest.mark.parametrize("path", ["/", "/en/", "/es/"])
def test_the_front_door_is_answered_by_nginx_as_the_app_would(site, path):
    """tests/test_preview.py compares many more visitors, with gunicorn stopped."""
    client = create_app({"TESTING": True, "SECRET_KEY": "x"}).test_client()
    expected = client.get(path, base_url=f"https://{HOST}")
    response = site.request("GET", path)
    assert f"GET {path} " not in site.app.log(), "nginx answered, not the app"
    assert response.status == expected.status_code == 302
    assert response.headers["Location"] == expected.headers["Location"]
    assert cookies_without_expires(response.headers) == (
        cookies_without_expires(expected.headers) or None
    )


# --- nginx's own error pages, as `flask freeze` writes them ------------------


@pytest.mark.parametrize("url", STATIC_URLS)
def test_nginx_error_pages_say_it_in_both_languages(client, url):
    page = client.get(url).get_data(as_text=True)
    sections = sections_by_language(page)
    assert sorted(sections) == sorted(LANGUAGES)
    assert sections["en"] != sections["es"], "the Spanish text is translated"
    assert "Si tiene una emergencia médica, llame al 911." in sections["es"]
    assert 'href="/es/inmunoterapia"' in sections["es"]
    assert '<meta name="robots" content="noindex">' in page


def test_nginx_error_pages_are_valid_html(client, vnu_jar, tmp_path):
    documents = {
        url.strip("/").replace("/", "-"): client.get(url).data for url in STATIC_URLS
    }
    errors = {
        name: found
        for name, found in check_html(vnu_jar, documents, tmp_path).items()
        if found
    }
    assert not errors


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nginx_and_the_app_say_the_same_about_the_same_error(client, lang):
    """One table of texts (app/errors.py) for both: a POST to a page is
    a 405 from the app, and from nginx when its method is one nginx refuses."""
    page_path = {"en": "/en/immunotherapy", "es": "/es/inmunoterapia"}[lang]
    from_app = client.post(page_path)
    assert from_app.status_code == 405
    app_text = from_app.get_data(as_text=True)
    heading = re.search(r"<h1>([^<]+)</h1>", app_text)[1]
    message = re.search(r"<h1>[^<]+</h1>\s*<p>([^<]+)</p>", app_text)[1]
    nginx_section = sections_by_language(client.get("/errors/405.html").text)[lang]
    assert f">{heading}</h" in nginx_section
    assert f"<p>{message}</p>" in nginx_section


# --- The app down: gunicorn stopped, or resetting connections ----------------


class ResettingUpstream:
    """An upstream that accepts each connection and resets it at once, as a
    gunicorn worker killed mid-request (a timeout, a crash) does."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.sock.accept()
                connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                connection.recv(65536)
                connection.close()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("upstream", ["stopped", "resetting"])
def test_with_the_app_down_no_log_names_the_visitor_and_one_says_so(tmp_path, upstream):
    """The guide's nginx files with no gunicorn behind them (or one whose
    worker dies on every request)."""
    if not os.path.exists(preview_tool.NGINX) or not shutil.which("openssl"):
        skip_or_fail("needs nginx and openssl (apt-get install nginx-light openssl)")
    resetting = ResettingUpstream() if upstream == "resetting" else None
    # nginx's own 502 page is all of the build these requests need.
    (tmp_path / "build" / "errors").mkdir(parents=True)
    (tmp_path / "build" / "errors" / "502.html").write_text("The app is down.")
    site = Site(tmp_path, resetting.port if resetting else free_port())
    nginx = preview_tool.start_nginx(tmp_path, site.https)
    try:
        query = "?name=Maria+Lopez&dob=1958-03-27"
        assert site.request("GET", f"/en/no-such-page{query}").status == 502
        body = b"name=Maria+Lopez&dob=1958-03-27"
        posted = site.request("POST", f"/en/request-appointment{query}", body=body)
        assert posted.status == 502
        down = wait_for_lines(tmp_path / "logs" / "clinic-site.app-down.log", 2)
        wait_for_line(tmp_path / "clinic-site.access.log", '"POST /en/request')
    finally:
        preview_tool.stop(nginx)
        if resetting:
            resetting.close()
    assert len(down.splitlines()) == 2
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", down)
    assert_no_visitor_in(tmp_path, ("Maria", "1958-03-27", "127.0.0.1"))
