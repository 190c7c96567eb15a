"""One log line per request, and nothing the visitor sent in any log line."""

from __future__ import annotations

import logging
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import requests
from helpers import submit
from log_files import wait_for_line
from servers import free_port
from servers import gunicorn
from servers import production_env
from servers import run
from smtp_sink import RecordingHandler
from smtp_sink import SMTPServer

LINE = re.compile(r"(GET|POST|HEAD) (\S+) (\d{3}) (\d+\.\d)ms")


def request_lines(caplog) -> list[str]:
    """The request log lines recorded so far."""
    return [r.getMessage() for r in caplog.records if r.name == "app.observability"]


def test_one_line_per_request_with_method_path_status_duration(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/en/immunotherapy")
    client.get("/es/no-existe")
    client.post("/en/immunotherapy")
    client.get("/")
    client.get("/static/site.css")
    lines = request_lines(caplog)
    assert [LINE.fullmatch(line).groups()[:3] for line in lines] == [
        ("GET", "/en/immunotherapy", "200"),
        ("GET", "/es/no-existe", "404"),
        ("POST", "/en/immunotherapy", "405"),
        ("GET", "/", "302"),
        ("GET", "/static/site.css", "200"),
    ]


def test_a_path_cannot_forge_a_second_line(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/en/x%0AGET%20/en/forged%20200%200.1ms")
    (line,) = request_lines(caplog)
    assert "\n" not in line
    assert line.startswith("GET /en/x%0AGET%20/en/forged%20200%200.1ms 404 ")


def visitor_input(secret: str) -> dict:
    """A secret in every place a visitor can put one, except the path."""
    return {
        "query_string": {"email": secret},
        "headers": {
            "Cookie": f"lang=es; tracking={secret}",
            "Referer": f"https://elsewhere.example/?q={secret}",
            "User-Agent": f"agent-{secret}",
            "X-Forwarded-For": "203.0.113.9",
        },
    }


def test_nothing_the_visitor_sent_reaches_the_log(client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = f"patient-{uuid.uuid4().hex}"
    sent = visitor_input(secret)
    client.get("/en/immunotherapy", **sent)
    client.get("/es/no-existe", **sent)
    client.post("/en/request-appointment", data={"name": secret}, **sent)
    client.post("/es/solicitar-cita", data={"message": secret * 5000}, **sent)
    assert len(request_lines(caplog)) == 4
    assert secret not in caplog.text
    assert "203.0.113.9" not in caplog.text, "nor the visitor's address"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """gunicorn behind one (pretend) proxy, writing its log to a file."""
    tmp_path = tmp_path_factory.mktemp("logging")
    env = production_env(tmp_path, FLASK_TRUSTED_PROXIES="1")
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        yield server


def fetch(url: str, headers: dict, data: bytes | None = None) -> int:
    """The status of one real HTTP request."""
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_under_gunicorn_one_line_per_request_and_no_visitor_input(site):
    secret = f"patient-{uuid.uuid4().hex}"
    sent = visitor_input(secret)
    query = "?" + urllib.parse.urlencode(sent["query_string"])
    headers = sent["headers"]
    assert fetch(site.url + "/en/immunotherapy" + query, headers) == 200
    assert fetch(site.url + "/es/no-existe" + query, headers) == 404
    assert fetch(site.url + "/static/site.css" + query, headers) == 200
    form = urllib.parse.urlencode({"name": secret}).encode()
    # No CSRF token: the form comes back (400) with a fresh one.
    assert fetch(site.url + "/en/request-appointment", headers, form) == 400
    log = site.log()
    lines = [line.split(": ", 1)[1] for line in log.splitlines() if "observabi" in line]
    assert [LINE.fullmatch(line).group(1, 2, 3) for line in lines] == [
        ("GET", "/en/immunotherapy", "200"),
        ("GET", "/es/no-existe", "404"),
        ("GET", "/static/site.css", "200"),
        ("POST", "/en/request-appointment", "400"),
    ]
    assert secret not in log
    assert "203.0.113.9" not in log


class SecondInboxRefused(RecordingHandler):
    """A relay that refuses the second clinic inbox for good."""

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if address == "second@example.org":
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_request_is_traced_by_its_reference_in_gunicorns_log(tmp_path):
    """Stored, sent to each inbox, refused with the relay's code, failed, then
    discarded by the operator: every step is an INFO (or higher) line with
    the reference and nothing the patient typed."""
    relay = SMTPServer(free_port())
    relay.handler = SecondInboxRefused()
    relay.start()
    env = production_env(
        tmp_path,
        FLASK_MAIL_PORT=str(relay.port),
        FLASK_CLINIC_INBOX='["first@example.org", "second@example.org"]',
    )
    log_path = tmp_path / "gunicorn.log"
    try:
        with gunicorn(env, log_path) as site:
            session = requests.Session()
            marker = f"Tracy{uuid.uuid4().hex[:8]}"
            response = submit(site.url, session=session, last_name=marker)
            assert response.status_code == 303
            page = session.get(site.url + response.headers["Location"], timeout=10)
            reference = re.search(r"[3-9A-Y]{3}-[3-9A-Y]{3}", page.text).group(0)
            wait_for_line(log_path, f"request {reference} not delivered", timeout=30)
        discarded = run(
            [sys.executable, "-m", "flask", "outbox", "discard", reference, "--yes"],
            env,
        )
    finally:
        relay.stop()
    assert discarded.returncode == 0, discarded.stderr
    lines = [
        line.split(": ", 1)[1]
        for line in (log_path.read_text() + discarded.stderr).splitlines()
        if f"request {reference}" in line
    ]
    assert lines[0] == f"outbox: request {reference} stored"
    assert lines[1] == f"outbox: request {reference} sent to first@example.org"
    assert lines[2].startswith(
        f"outbox: request {reference} not delivered (attempt 1: the relay"
    )
    assert "refused the inbox second@example.org (SMTP 550)" in lines[2]
    assert "failing, see `flask outbox list`" in lines[2]
    assert lines[3] == (
        f"outbox: request {reference} discarded by an operator; never delivered"
        " to second@example.org"
    )
    assert marker not in log_path.read_text() + discarded.stderr
    assert len(relay.received) == 1
