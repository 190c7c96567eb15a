"""``make preview``: nginx serves the frozen build from deploy/nginx's real
files, in front of gunicorn on a socket. Every page stays readable with
gunicorn stopped, and nginx's own error pages are the site's bilingual pages
with the security headers.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest
from helpers import FORM_PATHS
from helpers import cookies_without_expires
from helpers import skip_or_fail
from log_files import assert_no_visitor_in
from log_files import wait_for_line
from log_files import wait_for_lines
from servers import ROOT
from servers import free_port

from app import create_app
from app.security import HEADERS
from tools import preview as preview_tool

SECURITY_HEADERS = {
    **HEADERS,
    "Strict-Transport-Security": "max-age=63072000",
}


@dataclass
class Answer:
    """One HTTP response, body as sent (not decompressed)."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def get(preview, path: str, *, method="GET", headers=None, body=None, source=None):
    """One request to the preview's nginx, as a browser would send it."""
    connection = http.client.HTTPConnection(
        "127.0.0.1",
        preview.port,
        timeout=10,
        source_address=(source, 0) if source else None,
    )
    try:
        # A list of (name, value) may name a header twice.
        headers = headers.items() if isinstance(headers, dict) else headers or []
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    """``make preview`` on a free port, with one gunicorn worker."""
    if not os.path.exists(preview_tool.NGINX):
        skip_or_fail("needs nginx (apt-get install nginx-light)")
    if not preview_tool.BROTLI_MODULE.exists():
        skip_or_fail("needs apt-get install libnginx-mod-http-brotli-static")
    directory = tmp_path_factory.mktemp("preview")
    with preview_tool.running(free_port(), directory, workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def pages(preview) -> list[str]:
    """Every page the sitemap lists, as paths, except the form (the app's)."""
    sitemap = get(preview, "/sitemap.xml").text
    paths = [
        re.sub(r"^https?://[^/]+", "", url)
        for url in re.findall(r"<loc>([^<]+)<", sitemap)
    ]
    pages = [path for path in paths if path not in FORM_PATHS.values()]
    assert {"/en/immunotherapy", "/es/inmunoterapia", "/es/privacidad"} <= set(pages)
    return pages


@pytest.fixture
def app_stopped(preview):
    """gunicorn stopped for one test, started again after it."""
    preview.stop_app()
    yield
    preview.start_app()


def assert_security_headers(answer: Answer) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get_all(name) == [value], name


def assert_bilingual_error_page(answer: Answer, preview, code: int) -> None:
    """The page ``flask freeze`` wrote for ``code``, in English and Spanish."""
    assert answer.status == code
    assert answer.body == (preview.build / "errors" / f"{code}.html").read_bytes()
    assert '<html lang="en">' in answer.text
    assert '<section lang="en">' in answer.text
    assert '<section lang="es">' in answer.text
    assert "<center>nginx</center>" not in answer.text
    assert_security_headers(answer)
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_preview_runs_the_deploy_guides_nginx_files(preview):
    """Only the server's paths differ between deploy/nginx and what nginx runs."""
    local = {
        preview_tool.BUILD_PATH: str(preview.build),
        preview_tool.LOG_PATH: f"{preview.logs}/",
        preview_tool.APP_ADDRESS: preview.app_bind,
    }
    sources = preview_tool.deploy_nginx_files()
    assert len(sources) >= 7
    for source in sources:
        expected = source.read_text()
        for server_path, path in local.items():
            expected = expected.replace(server_path, path)
        copy = preview.dir / source.relative_to(preview_tool.DEPLOY_NGINX)
        assert copy.read_text() == expected, source
    nginx_conf = (preview.dir / "nginx.conf").read_text()
    assert "include conf.d/clinic-site.conf;" in nginx_conf
    assert "include snippets/clinic-site.conf;" in nginx_conf


def test_every_page_is_served_from_the_build_with_gunicorn_stopped(
    preview, pages, app_stopped
):
    stylesheet = None
    for path in pages:
        answer = get(preview, path)
        assert answer.status == 200, path
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert answer.body == (preview.build / path.lstrip("/")).read_bytes()
        assert_security_headers(answer)
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', answer.text)[1]
    for path in ("/sitemap.xml", "/robots.txt"):
        answer = get(preview, path)
        assert answer.status == 200, path
        assert answer.body == (preview.build / path.lstrip("/")).read_bytes()
    css = get(preview, stylesheet)
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert_security_headers(css)


def test_pages_set_the_language_cookie_as_the_app_does(preview, pages):
    client = create_app({"TESTING": True, "SECRET_KEY": "x"}).test_client()
    for path in pages:
        answer = get(preview, path)
        assert cookies_without_expires(answer.headers) == cookies_without_expires(
            client.get(path).headers
        ), path
    spanish = get(preview, "/es/inmunoterapia")
    assert spanish.headers["Set-Cookie"].startswith("lang=es;")
    # Already chosen: no cookie, as from the app.
    again = get(preview, "/es/inmunoterapia", headers={"Cookie": "lang=es"})
    assert again.headers.get_all("Set-Cookie") is None
    switched = get(preview, "/en/immunotherapy", headers={"Cookie": "lang=es"})
    assert switched.headers["Set-Cookie"].startswith("lang=en;")


@pytest.mark.parametrize(
    ("encoding", "decompress"), [("br", brotli.decompress), ("gzip", gzip.decompress)]
)
def test_compressed_copies_are_served_to_browsers_that_accept_them(
    preview, encoding, decompress
):
    for path in ("/en/immunotherapy", "/es/inmunoterapia", "/sitemap.xml"):
        plain = get(preview, path).body
        answer = get(preview, path, headers={"Accept-Encoding": encoding})
        assert answer.headers["Content-Encoding"] == encoding, path
        assert answer.headers.get_all("Vary") == ["Accept-Encoding"]
        assert len(answer.body) < len(plain) / 2
        assert decompress(answer.body) == plain
    identity = get(
        preview, "/en/immunotherapy", headers={"Accept-Encoding": "identity"}
    )
    assert "Content-Encoding" not in identity.headers
    assert identity.headers.get_all("Vary") == ["Accept-Encoding"]


def test_the_dynamic_paths_reach_the_app(preview):
    form = get(preview, "/es/solicitar-cita")
    assert form.status == 200
    assert 'name="csrf_token"' in form.text
    assert get(preview, "/healthz").status == 200


# The visitor's side of the front door: the one language rule (README,
# "Routes") reads only these two headers. Each case is a list of headers, so
# a header may come twice.
FRONT_DOORS = ("/", "/en/", "/es/", "/en", "/es")
LANGUAGE_CASES = [
    [],
    [("Cookie", "lang=en")],
    [("Cookie", "lang=es")],
    [("Cookie", "lang=fr")],
    [("Cookie", "lang=")],
    [("Cookie", "LANG=es")],
    [("Cookie", "Lang=es"), ("Accept-Language", "en")],
    [("Cookie", "lang=ES")],
    [("Cookie", 'lang="es"')],
    [("Cookie", "lang=es; lang=en")],
    [("Cookie", "lang=en; LANG=es"), ("Accept-Language", "es")],
    [("Cookie", "theme=dark; lang=es")],
    [("Cookie", "xlang=es; lang=en"), ("Accept-Language", "es")],
    [("Cookie", "lang =es")],
    [("Cookie", "lang=es ; theme=dark")],
    [("Cookie", "theme=dark,lang=es")],
    [("Cookie", "lang=en,theme=dark"), ("Accept-Language", "es")],
    [("Cookie", "theme=dark"), ("Cookie", "lang=es")],
    [("Cookie", "lang=fr"), ("Accept-Language", "es-MX")],
    [("Accept-Language", "")],
    [("Accept-Language", "en")],
    [("Accept-Language", "es")],
    [("Accept-Language", "ES")],
    [("Accept-Language", "es-MX")],
    [("Accept-Language", "es-419,es;q=0.9")],
    [("Accept-Language", "es-MX,es;q=0.9,en-US;q=0.8,en;q=0.7")],
    [("Accept-Language", "en-US,en;q=0.9,es;q=0.8")],
    [("Accept-Language", "en-US,es")],
    [("Accept-Language", "es, en")],
    [("Accept-Language", "  es ,en")],
    [("Accept-Language", "es;q=0")],
    [("Accept-Language", "es;q=0, *")],
    [("Accept-Language", "es;q=0.1,en;q=0.9")],
    [("Accept-Language", "*")],
    [("Accept-Language", "*, es")],
    [("Accept-Language", "fr-CA,fr;q=0.9,es;q=0.8")],
    [("Accept-Language", "es_419")],
    [("Accept-Language", "esp")],
    [("Accept-Language", "es x")],
    [("Accept-Language", ",es")],
    [("Accept-Language", "es;;;q=abc,,")],
    [("Accept-Language", "eS-us;Q=0.3")],
    [("Accept-Language", "en"), ("Accept-Language", "es")],
    [("Accept-Language", "es"), ("Accept-Language", "en")],
]


def front_door_answer(status, headers) -> tuple:
    """What a browser does with a front-door answer: where it goes next (the
    path), and the cookie it keeps."""
    cookies = cookies_without_expires(headers) or []
    return status, urlsplit(headers["Location"]).path, cookies


def test_the_front_door_is_nginxs_by_the_one_language_rule_with_gunicorn_stopped(
    preview, app_stopped
):
    # Each request on its own, as from a new browser: no cookie kept.
    client = create_app({"TESTING": True, "SECRET_KEY": "x"}).test_client(
        use_cookies=False
    )
    differences = []
    landed_in = set()
    for path in FRONT_DOORS:
        for headers in LANGUAGE_CASES:
            from_app = client.get(path, headers=headers)
            from_nginx = get(preview, path, headers=headers)
            expected = front_door_answer(from_app.status_code, from_app.headers)
            if front_door_answer(from_nginx.status, from_nginx.headers) != expected:
                differences.append((path, headers, expected))
            assert_security_headers(from_nginx)
            landed_in.add(expected[1])
    assert not differences
    assert {"/en/immunotherapy", "/es/inmunoterapia"} <= landed_in
    assert get(preview, "/").headers["Vary"] == "Cookie, Accept-Language"


@pytest.mark.parametrize(
    ("headers", "topic_page"),
    [
        ([], "/en/immunotherapy"),
        ([("Accept-Language", "es-MX,es;q=0.9")], "/es/inmunoterapia"),
        ([("Accept-Language", "es-419")], "/es/inmunoterapia"),
        ([("Accept-Language", "es;q=0")], "/es/inmunoterapia"),
        ([("Accept-Language", "en-US,es")], "/en/immunotherapy"),
        ([("Accept-Language", "*")], "/en/immunotherapy"),
        ([("Cookie", "lang=en"), ("Accept-Language", "es")], "/en/immunotherapy"),
        ([("Cookie", "lang=es"), ("Accept-Language", "en")], "/es/inmunoterapia"),
        ([("Cookie", 'lang="es"')], "/en/immunotherapy"),
    ],
)
def test_the_root_follows_the_rule_the_readme_states(preview, headers, topic_page):
    """The rule itself, not only agreement: both answer as the README says."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x"})
    client = app.test_client(use_cookies=False)
    assert client.get("/", headers=headers).headers["Location"] == topic_page
    assert get(preview, "/", headers=headers).headers["Location"] == topic_page


def test_health_details_are_only_for_the_monitor(preview):
    stranger = get(preview, "/healthz", source="127.0.0.2")
    assert stranger.status == 404
    assert stranger.body == (preview.build / "404.html").read_bytes()
    assert get(preview, "/healthz/delivery", source="127.0.0.2").status == 404


def test_nginx_not_found_pages_are_the_sites_in_each_language(preview, app_stopped):
    english = get(preview, "/errors/502.html")  # internal only
    spanish = get(preview, "/es/404.html")
    for answer, page in ((english, "404.html"), (spanish, "es/404.html")):
        assert answer.status == 404
        assert answer.body == (preview.build / page).read_bytes()
        assert_security_headers(answer)
    assert '<html lang="es">' in spanish.text


def test_a_far_too_large_body_gets_the_bilingual_413_page(preview):
    answer = get(preview, "/en/request-appointment", method="POST", body=b"x" * 200_000)
    assert_bilingual_error_page(answer, preview, 413)


def test_a_body_slightly_over_the_apps_limit_gets_the_apps_own_page(preview):
    answer = get(preview, "/es/solicitar-cita", method="POST", body=b"x" * 100_000)
    assert answer.status == 413
    assert '<html lang="es">' in answer.text
    assert '<section lang="en">' not in answer.text, "the app's page, not nginx's"


def test_with_gunicorn_stopped_the_form_gets_the_bilingual_502_page(
    preview, app_stopped
):
    for method in ("GET", "POST"):
        answer = get(preview, "/en/request-appointment", method=method, body=b"")
        assert_bilingual_error_page(answer, preview, 502)


def test_with_gunicorn_stopped_the_health_check_gets_the_bilingual_503_page(
    preview, app_stopped
):
    answer = get(preview, "/healthz")
    assert_bilingual_error_page(answer, preview, 503)
    assert answer.headers["Retry-After"] == "60"


def test_the_access_log_names_no_client(preview):
    get(preview, "/en/immunotherapy?name=Maria")
    log = wait_for_line(
        preview.logs / "nginx-access.log", '"GET /en/immunotherapy" 200'
    )
    assert "127.0.0.1" not in log
    assert "Maria" not in log


def test_with_gunicorn_stopped_no_log_names_the_visitor_and_one_says_it_is_down(
    preview, app_stopped
):
    query = "?name=Maria+Lopez&dob=1958-03-27"
    assert get(preview, f"/en/no-such-page{query}").status == 502
    form = f"/en/request-appointment{query}"
    body = b"name=Maria+Lopez&dob=1958-03-27"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert get(preview, form, method="POST", body=body, headers=headers).status == 502
    assert get(preview, f"/healthz{query}").status == 503
    # One line per request that needed the app, each with its time.
    down = wait_for_lines(preview.logs / "clinic-site.app-down.log", 3)
    assert "app upstream unavailable: answered 503" in down
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", down)
    # The buffered access log, flushed: a last request to know it is written.
    get(preview, "/en/privacy")
    wait_for_line(preview.logs / "nginx-access.log", '"GET /en/privacy" 200')
    texts = assert_no_visitor_in(preview.logs)
    assert {"nginx-access.log", "nginx-error.log", "gunicorn.log"} <= set(texts)


class MakePreview:
    """``make preview`` as a developer runs it: its own process, its output."""

    def __init__(self, port: int) -> None:
        env = {**os.environ, "PREVIEW_PORT": str(port), "WEB_CONCURRENCY": "1"}
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.preview"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def line(self, timeout: float = 120) -> str:
        """The next line it prints; fail if none comes (it may be building)."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"nothing printed in {timeout} s"
        return self.process.stdout.readline()

    def banner(self) -> Path:
        """Its banner; the preview's folder (its logs' parent). Keeps the
        address gunicorn listens on in ``app_bind``."""
        banner = self.line()
        assert f"http://127.0.0.1:{self.port}/" in banner, self.process.stderr.read()
        self.app_bind = re.search(r"gunicorn \(on (\S+)\)", banner)[1]
        return Path(re.search(r"Logs in (\S+)\.", banner)[1]).parent

    def kill(self) -> None:
        """Only if a test failed on the way: it must not outlive the test."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def gunicorn_pids(app_bind: str) -> set[int]:
    """Every live gunicorn process bound to ``app_bind``: master and workers.

    A killed process's /proc entry stays until it is reaped, with an empty
    command line, so it does not count.
    """
    return {
        int(proc.name)
        for proc in Path("/proc").iterdir()
        if proc.name.isdigit()
        and f"--bind={app_bind} " in _cmdline(proc)
        and "gunicorn" in _cmdline(proc)
    }


def kill_every_gunicorn(app_bind: str, timeout: float = 60) -> None:
    """SIGKILL gunicorn's master and every worker, including any it forks
    while we look; return once none is left."""
    deadline = time.monotonic() + timeout
    while pids := gunicorn_pids(app_bind):
        assert time.monotonic() < deadline, f"gunicorn still runs: {pids}"
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def wait_until_gone(pid: int, timeout: float = 60) -> None:
    """Return once ``pid`` has ended (and been reaped, or is a zombie)."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def needs_nginx():
    if not os.path.exists(preview_tool.NGINX):
        skip_or_fail("needs nginx (apt-get install nginx-light)")


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_make_preview_stops_everything_on_ctrl_c_or_sigterm(needs_nginx, signal_number):
    preview = MakePreview(free_port())
    try:
        directory = preview.banner()
        nginx_pid = int((directory / "nginx.pid").read_text())
        gunicorns = gunicorn_pids(preview.app_bind)
        assert gunicorns, "gunicorn is running"
        assert get_url(preview.port, "/es/inmunoterapia") == 200
        assert get_url(preview.port, "/es/solicitar-cita") == 200, "gunicorn answers"
        preview.process.send_signal(signal_number)
        # A cap for a loaded machine; it normally takes a second or two.
        assert preview.process.wait(timeout=180) in (0, -signal.SIGINT, 130)
    finally:
        preview.kill()
    for pid in (nginx_pid, *gunicorns):
        wait_until_gone(pid)
    # Workers forked after the first look included.
    deadline = time.monotonic() + 60
    while gunicorn_pids(preview.app_bind):
        assert time.monotonic() < deadline, "gunicorn outlived the preview"
        time.sleep(0.05)
    with pytest.raises(ConnectionRefusedError):
        get_url(preview.port, "/")
    assert not directory.exists(), "its temporary folder is removed"


def test_make_preview_keeps_serving_pages_when_gunicorn_dies(needs_nginx):
    """What patients see during a restart, rehearsed by hand as the guide says."""
    preview = MakePreview(free_port())
    try:
        preview.banner()
        kill_every_gunicorn(preview.app_bind)
        assert "gunicorn stopped" in preview.line()
        assert get_url(preview.port, "/es/inmunoterapia") == 200
        assert get_url(preview.port, "/es/solicitar-cita") == 502
        assert preview.process.poll() is None, "the preview is still running"
        preview.process.send_signal(signal.SIGTERM)
        assert preview.process.wait(timeout=180) == 0
    finally:
        preview.kill()


def test_make_preview_says_why_nginx_stopped_without_pointing_to_a_deleted_folder(
    needs_nginx,
):
    preview = MakePreview(free_port())
    try:
        directory = preview.banner()
        nginx_pid = int((directory / "nginx.pid").read_text())
        os.kill(nginx_pid, signal.SIGKILL)
        _, stderr = preview.process.communicate(timeout=180)
    finally:
        preview.kill()
    assert preview.process.returncode != 0
    assert "nginx stopped" in stderr
    assert not directory.exists(), "its temporary folder is removed"
    assert str(directory) not in stderr, "no pointer to a folder that is gone"


def test_make_preview_on_a_busy_port_stops_at_once_naming_it(needs_nginx):
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        preview = MakePreview(port)
        try:
            stdout, stderr = preview.process.communicate(timeout=60)
        finally:
            preview.kill()
    assert preview.process.returncode != 0
    assert stdout == "", "no banner for a server it did not start"
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert str(port) in stderr
    assert "PREVIEW_PORT" in stderr


def stop_building(*args) -> None:
    raise SystemExit("building")


@pytest.mark.parametrize("missing", ["nginx", "brotli"])
def test_a_missing_package_is_the_first_line_make_preview_prints(
    monkeypatch, capfd, tmp_path, missing
):
    """Before the build and its "Not ready to launch" list: the package."""
    nowhere = tmp_path / "not-installed"
    if missing == "nginx":
        monkeypatch.setattr(preview_tool, "NGINX", str(nowhere))
    else:
        monkeypatch.setattr(preview_tool, "BROTLI_MODULE", nowhere)
        # Stop right after the check, where it would start building.
        monkeypatch.setattr(preview_tool, "freeze", stop_building)
    # main() sets its own SIGTERM handler; keep pytest's.
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    monkeypatch.setenv("PREVIEW_PORT", str(free_port()))
    with pytest.raises(SystemExit) as stopped:
        preview_tool.main()
    out, err = capfd.readouterr()
    first = (out + err + str(stopped.value)).strip().splitlines()[0]
    package = "nginx-light" if missing == "nginx" else "libnginx-mod-http-brotli-static"
    assert f"apt-get install {package}" in first
    assert "Not ready to launch" not in out + err


def test_nginx_is_never_taken_as_started_while_another_server_holds_its_port(
    preview, tmp_path
):
    """The race after the first check: a server that took the port meanwhile
    answers the probe, but nginx did not start."""
    preview_tool.write_nginx_config(
        tmp_path, preview_tool.preview_server(tmp_path, preview.port), preview.app_port
    )
    with pytest.raises(SystemExit, match="Address already in use"):
        preview_tool.start_nginx(tmp_path, preview.port)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # the process ended meanwhile
        return ""


def get_url(port: int, path: str) -> int:
    """The status of one GET to 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()
