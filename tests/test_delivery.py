"""Delivery never loses a request: mail outages, killed senders, TLS, privacy."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import trustme
import yaml
from conftest import SMTPServer
from helpers import submit
from helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app_config(app_config):
    """Retry at once, and let a dead sender's lease run out quickly."""
    app_config.update(OUTBOX_RETRY_SECONDS=0, OUTBOX_LEASE_SECONDS=1)
    return app_config


@pytest.fixture
def mail_server(app_config):
    """An SMTP server on the app's port, not started: the mail is "down"."""
    server = SMTPServer(app_config["MAIL_PORT"])
    yield server
    server.stop()


def queued(app) -> int:
    return app.extensions["outbox"].status().queued


def tried_once(app) -> bool:
    """The immediate attempt after the POST has run (and, here, failed)."""
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        return db.execute("SELECT MIN(attempts) FROM requests").fetchone()[0] == 1


def deliver(runner) -> str:
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    return result.output


def test_mail_outage_keeps_requests_until_flask_outbox_deliver(
    app, server_url, mail_server, runner
):
    response = submit(server_url, "es", first_name="Rosa")
    assert response.status_code == 303  # the patient still sees "received"
    assert wait_until(lambda: tried_once(app))
    assert queued(app) == 1

    status = runner.invoke(args=["outbox", "status"]).output
    assert "queued: 1" in status and "Rosa" not in status

    mail_server.start()
    assert "delivered 1" in deliver(runner)
    assert "delivered 0" in deliver(runner)
    assert len(mail_server.received) == 1
    assert "Rosa" in mail_server.received[0].raw.decode()
    assert queued(app) == 0


def test_a_request_that_keeps_failing_is_reported_never_dropped(
    app, server_url, mail_server, runner, caplog
):
    app.extensions["outbox"].failing_after = 2
    submit(server_url)
    assert wait_until(lambda: tried_once(app))
    for _ in range(3):
        deliver(runner)
    status = app.extensions["outbox"].status()
    assert status.queued == 1 and status.failing == 1
    [reference] = status.failing_references
    output = runner.invoke(args=["outbox", "status"]).output
    assert f"failing request {reference}" in output
    assert any(
        record.levelno == logging.ERROR and reference in record.getMessage()
        for record in caplog.records
    )
    mail_server.start()
    deliver(runner)
    assert len(mail_server.received) == 1


def subprocess_env(app_config: dict) -> dict:
    """The same configuration, the way cron would pass it."""
    env = {
        "PATH": os.environ["PATH"],
        "FLASK_APP": "app",
        "FLASK_SECRET_KEY": "test-secret",
        "FLASK_SITE_URL": "https://immunotherapy.example.org",
    }
    for key in (
        "OUTBOX_PATH",
        "MAIL_SERVER",
        "MAIL_PORT",
        "MAIL_DEFAULT_SENDER",
        "CLINIC_INBOX",
        "OUTBOX_LEASE_SECONDS",
        "OUTBOX_RETRY_SECONDS",
    ):
        env[f"FLASK_{key}"] = str(app_config[key])
    return env


def flask_command(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class StallingHandler:
    """Takes the whole message, then never answers: a sender waits forever."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.seen.append(envelope.content)
        await asyncio.sleep(60)
        return "451 Too late"


def message_id(raw: bytes) -> str:
    from email import message_from_bytes

    return message_from_bytes(raw)["Message-ID"]


def test_a_sender_killed_mid_send_loses_nothing(
    app, app_config, server_url, mail_server
):
    submit(server_url)
    assert wait_until(lambda: tried_once(app))

    stalling = SMTPServer(app_config["MAIL_PORT"])
    stalling.handler = StallingHandler()
    stalling.start()
    try:
        sender = flask_command("outbox", "deliver", env=subprocess_env(app_config))
        assert wait_until(lambda: stalling.handler.seen, timeout=20)
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    finally:
        stalling.stop()
    assert queued(app) == 1  # the killed sender's request is still there

    mail_server.start()
    time.sleep(1.1)  # the dead sender's lease runs out
    sender = flask_command("outbox", "deliver", env=subprocess_env(app_config))
    sender.wait(timeout=30)
    assert sender.returncode == 0, sender.stderr.read()
    assert len(mail_server.received) == 1
    assert queued(app) == 0
    # The resend carries the Message-ID fixed at storage: recognisable.
    assert message_id(mail_server.received[0].raw) == message_id(
        stalling.handler.seen[0]
    )


def test_concurrent_senders_never_claim_a_request_twice(
    app, app_config, server_url, mail_server
):
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(lambda i: submit(server_url, first_name=f"P{i}"), range(20))
        )
    assert [r.status_code for r in responses] == [303] * 20
    assert wait_until(lambda: tried_once(app))
    mail_server.start()
    senders = [
        flask_command("outbox", "deliver", env=subprocess_env(app_config))
        for _ in range(3)
    ]
    for sender in senders:
        sender.wait(timeout=60)
        assert sender.returncode == 0, sender.stderr.read()
    ids = [message_id(mail.raw) for mail in mail_server.received]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert queued(app) == 0


@pytest.fixture(scope="module")
def certificate_authority():
    return trustme.CA()


@pytest.fixture
def tls_files(certificate_authority, tmp_path):
    """A server certificate for 127.0.0.1 signed by a CA nobody trusts."""
    server_cert = certificate_authority.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(ca_file))
    return server_cert, ca_file


def server_context(server_cert):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


class Authenticator:
    """Accepts one user; records that a login happened."""

    def __init__(self) -> None:
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"site" and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_a_self_signed_certificate_is_refused_unless_its_ca_is_configured(
    app, app_config, server_url, runner, tls_files, mode
):
    server_cert, ca_file = tls_files
    authenticator = Authenticator()
    options = {"authenticator": authenticator, "auth_required": True}
    if mode == "starttls":
        options |= {
            "tls_context": server_context(server_cert),
            "require_starttls": True,
        }
        app.config.update(MAIL_USE_TLS=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS; this session is TLS from the
        # first byte.
        options |= {
            "ssl_context": server_context(server_cert),
            "auth_require_tls": False,
        }
        app.config.update(MAIL_USE_SSL=True)
    app.config.update(MAIL_USERNAME="site", MAIL_PASSWORD="s3cret")
    server = SMTPServer(app_config["MAIL_PORT"], **options)
    server.start()
    try:
        submit(server_url)
        assert wait_until(lambda: tried_once(app))
        deliver(runner)
        assert server.received == [] and queued(app) == 1

        app.config["MAIL_CA_FILE"] = str(ca_file)
        assert "delivered 1" in deliver(runner)
        assert len(server.received) == 1
        assert authenticator.logins == ["site"]
    finally:
        server.stop()


def test_personal_data_leaves_no_trace_in_logs_or_on_disk(
    app, app_config, server_url, mail_server, runner, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    marker = "Zebulon-7f3a9c"
    submit(
        server_url,
        last_name=marker,
        message=f"note {marker}",
        email=f"{marker}@example.com",
    )
    assert wait_until(lambda: tried_once(app))
    outbox_files = [
        Path(app_config["OUTBOX_PATH"] + suffix) for suffix in ("", "-wal", "-shm")
    ]

    def on_disk() -> bool:
        return any(
            path.exists() and marker.encode() in path.read_bytes()
            for path in outbox_files
        )

    assert on_disk()  # while queued, the request is on disk: the check can fail

    mail_server.start()
    deliver(runner)
    assert len(mail_server.received) == 1
    app.extensions["outbox"].checkpoint()
    assert not on_disk()
    captured = capfd.readouterr()
    # Every log line of ours and of the web server; the test SMTP server's
    # own debug log (mail.log) shows the message it received, as it should.
    ours = "\n".join(
        record.getMessage() for record in caplog.records if record.name != "mail.log"
    )
    for text in (ours, captured.out, captured.err):
        assert marker not in text
    assert any("delivered" in record.getMessage() for record in caplog.records)


@pytest.fixture
def clinic_phone_content(content_copy):
    site = content_copy / "site.yaml"
    data = yaml.safe_load(site.read_text())
    data["phone"] = "+1 559 555 0100"
    site.write_text(yaml.safe_dump(data))
    return content_copy


def test_an_unwritable_outbox_is_a_503_with_the_phone_never_received(
    app_config, clinic_phone_content, tmp_path, mail_server
):
    from app import create_app

    outbox_dir = tmp_path / "outbox"
    app_config.update(
        CONTENT_DIR=str(clinic_phone_content),
        OUTBOX_PATH=str(outbox_dir / "outbox.sqlite3"),
    )
    app = create_app(app_config)
    client = app.test_client()
    page = client.get("/es/solicitar-cita").get_data(as_text=True)
    import shutil

    from helpers import VALID_ANSWERS
    from helpers import csrf_token

    shutil.rmtree(outbox_dir)
    outbox_dir.write_text("not a folder")  # the disk is gone, say
    response = client.post(
        "/es/solicitar-cita",
        data={**VALID_ANSWERS, "last_name": "Quintana", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    # The form again, with the answers (issue 9.4), never cached, never "received".
    assert "el sitio web no pudo guardar su solicitud" in body
    assert "(559) 555-0100" in body
    assert 'value="Quintana"' in body
    assert "no-store" in response.headers["Cache-Control"]
    assert response.location is None


def test_one_request_that_cannot_be_built_never_stalls_the_others(
    app, runner, mail_server
):
    """A stored request whose email cannot be made (here an address no mail
    server takes) is rescheduled and reported; the ones behind it go out."""
    outbox = app.extensions["outbox"]
    good = {
        "received_at": "2026-11-27T17:00:00+00:00",
        "page_language": "en",
        "first_name": "Ana",
        "last_name": "Good",
        "phone": "+15595550123",
        "contact_method": "call",
        "best_time": "any",
        "language": "en",
        "requester": "self",
        "patient_status": "new",
        "reason": "other",
    }
    outbox.add(
        {**good, "last_name": "Bad", "email": "josé@example.com"}, mail_domain="x"
    )
    outbox.add(good, mail_domain="x")
    mail_server.start()
    assert "delivered 1, failed 1" in deliver(runner)
    assert ["Good" in mail.raw.decode() for mail in mail_server.received] == [True]
    status = outbox.status()
    assert status.queued == 1
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        assert db.execute("SELECT attempts FROM requests").fetchone() == (1,)


def test_a_sender_whose_lease_ran_out_does_not_release_anothers_claim(app):
    outbox = app.extensions["outbox"]
    outbox.lease_seconds = 0.05
    outbox.add({"first_name": "x"}, mail_domain="x")
    [slow] = outbox.claim()
    time.sleep(0.1)
    outbox.lease_seconds = 60
    [other] = outbox.claim()
    outbox.failed(slow, "TimeoutError")  # the slow sender gives up late
    assert outbox.claim() == []  # the other sender's claim still stands
    outbox.delivered(other)
    assert outbox.status().queued == 0


def test_make_runs_settings_deliver_to_its_smtp_sink(app_config, tmp_path):
    """The dev server's own settings, as `make run` passes them, reach the sink."""
    from app import create_app
    from tools.devserver import dev_environment

    server = SMTPServer(app_config["MAIL_PORT"])
    server.start()
    try:
        env = dev_environment(app_config["MAIL_PORT"])
        settings = {
            key.removeprefix("FLASK_"): value
            for key, value in env.items()
            if key != "FLASK_APP"
        }
        app = create_app(
            {**app_config, **settings, "MAIL_PORT": int(settings["MAIL_PORT"])}
        )
        client = app.test_client()
        from helpers import VALID_ANSWERS
        from helpers import csrf_token

        page = client.get("/en/request-appointment").get_data(as_text=True)
        client.post(
            "/en/request-appointment",
            data={**VALID_ANSWERS, "csrf_token": csrf_token(page)},
        )
        assert server.handler.wait_for(1)
        assert server.received[0].rcpt_tos == [env["FLASK_CLINIC_INBOX"]]
    finally:
        server.stop()
