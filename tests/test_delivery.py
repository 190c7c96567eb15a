"""Delivery never loses a request: mail outages, killed senders, TLS, privacy."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from cryptography.fernet import Fernet
from helpers import CLINIC_PHONE
from helpers import STORED_ANSWERS
from helpers import VALID_ANSWERS
from helpers import csrf_token
from helpers import edit_site
from helpers import stored_request
from helpers import submit
from helpers import wait_until
from smtp_sink import RecordingHandler
from smtp_sink import SMTPServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app_config(app_config):
    """Retry at once, and let a dead sender's lease run out quickly."""
    app_config.update(OUTBOX_RETRY_SECONDS=0, OUTBOX_LEASE_SECONDS=1)
    return app_config


def queued(app) -> int:
    return app.extensions["outbox"].status().queued


def tried_once(app) -> bool:
    """The immediate attempt after the POST has run (and, here, failed)."""
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        return db.execute("SELECT MIN(attempts) FROM requests").fetchone()[0] == 1


def deliver(runner, *options: str, exit_code: int = 0) -> str:
    """`flask outbox deliver`; its output (stdout and stderr) after checking
    its exit status: 0 all sent, 1 a send failed or a request waits too long."""
    result = runner.invoke(args=["outbox", "deliver", *options])
    assert result.exit_code == exit_code, result.output
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
        deliver(runner, exit_code=1)
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
        "OUTBOX_KEY",
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
    app, app_config, server_url, mail_server, time_machine
):
    submit(server_url)
    assert wait_until(lambda: tried_once(app))

    stalling = SMTPServer(app_config["MAIL_PORT"])
    stalling.handler = StallingHandler()
    stalling.start()
    # Long enough that the sender is still waiting on the relay when killed.
    env = {**subprocess_env(app_config), "FLASK_OUTBOX_LEASE_SECONDS": "6"}
    try:
        sender = flask_command("outbox", "deliver", env=env)
        assert wait_until(lambda: stalling.handler.seen, timeout=20)
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    finally:
        stalling.stop()
    assert queued(app) == 1  # the killed sender's request is still there

    mail_server.start()
    sender = flask_command("outbox", "deliver", env=env)
    sender.wait(timeout=30)
    assert "delivered 0" in sender.stdout.read()  # the dead sender's lease holds
    # ... until it runs out: past it, a sender here (clock moved on) takes it.
    time_machine.move_to(time.time() + 7, tick=True)
    result = app.test_cli_runner().invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
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
        output = deliver(runner, exit_code=1)
        assert server.received == [] and queued(app) == 1
        # The operator learns what is wrong, never the password.
        assert "certificate of 127.0.0.1" in output and "not trusted" in output
        assert "MAIL_CA_FILE" in output and "s3cret" not in output

        app.config["MAIL_CA_FILE"] = str(ca_file)
        assert "delivered 1" in deliver(runner)
        assert len(server.received) == 1
        assert authenticator.logins == ["site"]
    finally:
        server.stop()


def outbox_files(app_config) -> list[Path]:
    """The outbox and its journal files, whose raw bytes a thief would read."""
    return [Path(app_config["OUTBOX_PATH"] + end) for end in ("", "-wal", "-shm")]


def on_disk(app_config, marker: str) -> bool:
    return any(
        path.exists() and marker.encode() in path.read_bytes()
        for path in outbox_files(app_config)
    )


@pytest.fixture
def other_connection(app, app_config):
    """Another process's idle connection to the outbox (a gunicorn worker,
    a backup): while one is open, SQLite never folds the WAL away by itself."""
    db = sqlite3.connect(app_config["OUTBOX_PATH"])
    db.execute("SELECT COUNT(*) FROM requests").fetchone()
    yield db
    db.close()


def test_a_request_delivered_from_the_form_leaves_no_copy_in_the_wal(
    app, app_config, server_url, mail_server, other_connection
):
    mail_server.start()
    marker = "Quillon-4b8e21"
    assert submit(server_url, first_name=marker).status_code == 303
    assert mail_server.handler.wait_for(1)
    assert wait_until(lambda: queued(app) == 0)
    assert marker in mail_server.received[0].raw.decode()
    # The delivery thread's last statement comes after the delete.
    assert wait_until(lambda: not on_disk(app_config, marker))
    assert Path(app_config["OUTBOX_PATH"] + "-wal").exists()  # still in WAL mode


# A date of birth as the form takes it; stored as 1958-03-27.
BIRTH_DATE = {
    "date_of_birth-month": "3",
    "date_of_birth-day": "27",
    "date_of_birth-year": "1958",
}


def stored_payloads(app_config) -> list[bytes]:
    """The payload column as SQLite holds it (what a thief's disk image has)."""
    with sqlite3.connect(app_config["OUTBOX_PATH"]) as db:
        return [row[0].encode() for row in db.execute("SELECT payload FROM requests")]


def test_personal_data_is_never_readable_in_the_outbox_files_or_the_logs(
    app, app_config, server_url, mail_server, runner, caplog, capfd, other_connection
):
    """The raw bytes of the database, -wal and -shm hold no name, phone or
    date of birth, while the request waits and after it is delivered."""
    caplog.set_level(logging.DEBUG)
    marker = "Zebulon-7f3a9c"
    submit(
        server_url,
        last_name=marker,
        phone="(559) 555-0147",
        message=f"note {marker}",
        email=f"{marker}@example.com",
        **BIRTH_DATE,
    )
    assert wait_until(lambda: tried_once(app))
    typed = [marker, "5595550147", "559) 555-0147", "1958-03-27", "1958"]
    # While queued, the request is on disk, encrypted: its stored bytes are in
    # the files searched (the search can find what is there) and open with
    # the key, yet no byte of what was typed can be read.
    [token] = stored_payloads(app_config)
    assert on_disk(app_config, token.decode())
    assert marker in Fernet(app_config["OUTBOX_KEY"]).decrypt(token).decode()
    for text in typed:
        assert not on_disk(app_config, text), text

    mail_server.start()
    deliver(runner)
    assert len(mail_server.received) == 1
    email_text = mail_server.received[0].message.get_body(("plain",)).get_content()
    assert "(559) 555-0147" in email_text and marker in email_text
    for text in [*typed, token.decode()]:
        assert not on_disk(app_config, text), text
    captured = capfd.readouterr()
    # Every log line of ours and of the web server; the test SMTP server's
    # own debug log (mail.log) shows the message it received, as it should.
    ours = "\n".join(
        record.getMessage() for record in caplog.records if record.name != "mail.log"
    )
    for text in (ours, captured.out, captured.err):
        for typed_text in (marker, "555-0147", "5550147"):
            assert typed_text not in text
    assert any("delivered" in record.getMessage() for record in caplog.records)


@pytest.fixture
def clinic_phone_content(content_copy):
    return edit_site(content_copy, phone=CLINIC_PHONE)


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
    good = {**STORED_ANSWERS, "last_name": "Good"}
    outbox.add(
        {**good, "last_name": "Bad", "email": "josé@example.com"}, mail_domain="x"
    )
    outbox.add(good, mail_domain="x")
    mail_server.start()
    assert "delivered 1, failed 1" in deliver(runner, exit_code=1)
    assert ["Good" in mail.raw.decode() for mail in mail_server.received] == [True]
    status = outbox.status()
    assert status.queued == 1
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        assert db.execute("SELECT attempts FROM requests").fetchone() == (1,)


def test_a_sender_whose_lease_ran_out_does_not_release_anothers_claim(
    app, time_machine
):
    outbox = app.extensions["outbox"]
    time_machine.move_to(time.time(), tick=False)
    outbox.add({"first_name": "x"}, mail_domain="x")
    slow = outbox.claim_next()
    time_machine.shift(outbox.lease_seconds + 1)  # the slow sender's lease ran out
    outbox.lease_seconds = 60
    other = outbox.claim_next()
    assert other.id == slow.id
    outbox.failed(slow, "TimeoutError")  # the slow sender gives up late
    assert outbox.claim_next() is None  # the other sender's claim still stands
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


# --- Exactly once: overlapping senders, a slow relay, short leases ---


class SlowHandler(RecordingHandler):
    """A relay that takes ``delay`` seconds to accept each message (it answers
    250 only then, which is when a message counts as delivered)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def test_overlapping_senders_and_a_slow_relay_send_each_request_once(app, app_config):
    """Twelve requests take a sender 4.8 s at this relay's pace, longer than
    the 4 s lease: a sender that leased them all at once would see its lease
    run out under the next sender's feet."""
    for number in range(12):
        stored_request(app, f"P{number}")
    relay = SMTPServer(app_config["MAIL_PORT"])
    relay.handler = SlowHandler(0.4)
    relay.start()
    env = {**subprocess_env(app_config), "FLASK_OUTBOX_LEASE_SECONDS": "4"}
    try:
        senders = []
        for started in range(4):
            # Each next sender starts while the ones before are mid-batch.
            assert len(relay.handler.wait_for(3 * started, 30)) >= 3 * started
            senders.append(flask_command("outbox", "deliver", env=env))
        for sender in senders:
            sender.wait(timeout=60)
        assert wait_until(lambda: queued(app) == 0, timeout=30)
    finally:
        relay.stop()
    names = sorted(first_name(mail) for mail in relay.received)
    assert names == sorted(f"P{number}" for number in range(12))
    assert len({message_id(mail.raw) for mail in relay.received}) == 12


def first_name(mail) -> str:
    text = mail.message.get_body(("plain",)).get_content()
    return text.split("Patient name:")[1].split()[0]


def lease_until(app) -> float:
    """When the sender's lease on the (one) stored request runs out."""
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        [(until,)] = db.execute("SELECT claimed_until FROM requests").fetchall()
    return until or 0.0


def leased(app) -> bool:
    """A sender holds the (one) stored request."""
    return lease_until(app) > time.time()


def test_a_slow_send_keeps_its_lease_so_no_other_sender_takes_over(
    app, app_config, runner, time_machine
):
    """The relay takes twice the lease to accept the message: the sender
    renews its lease meanwhile, so another sender finds nothing to take."""
    outbox = app.extensions["outbox"]
    outbox.lease_seconds = 1.5
    stored_request(app)
    relay = SMTPServer(app_config["MAIL_PORT"])
    relay.handler = SlowHandler(3)
    relay.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(runner.invoke, args=["outbox", "deliver"])
            assert wait_until(lambda: leased(app))
            first = lease_until(app)
            # Renewed while the relay talks, beyond where the clock then goes
            # (the renewal just before the message may be only just later).
            assert wait_until(lambda: lease_until(app) > first + 0.2)
            time_machine.move_to(first + 0.1, tick=True)  # past the first lease
            assert outbox.claim_next() is None
            result = sending.result(timeout=30)
    finally:
        relay.stop()
    assert result.exit_code == 0, result.output
    assert len(relay.received) == 1 and queued(app) == 0


def test_a_sender_that_lost_its_lease_stops_talking_to_the_relay(
    app, app_config, runner
):
    """If another sender took the request over (this one stalled past its
    lease), the first one hangs up rather than send it a second time."""
    outbox = app.extensions["outbox"]
    outbox.lease_seconds = 1.5
    stored_request(app)
    relay = SMTPServer(app_config["MAIL_PORT"])
    relay.handler = StallingHandler()
    relay.start()

    def take_over() -> None:
        with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
            db.execute("UPDATE requests SET claimed_until = claimed_until + 100")

    try:
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(runner.invoke, args=["outbox", "deliver"])
            assert wait_until(lambda: relay.handler.seen)
            take_over()
            started = time.monotonic()
            result = sending.result(timeout=30)
            assert time.monotonic() - started < 2  # not the relay's 60 s
    finally:
        relay.stop()
    assert result.exit_code == 1
    assert "another sender took this request over" in result.output
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        # Still queued, and the other sender's claim stands.
        [(attempts, claimed)] = db.execute(
            "SELECT attempts, claimed_until FROM requests"
        ).fetchall()
    assert attempts == 0 and claimed > time.time() + 50


def test_the_lease_defaults_to_a_small_multiple_of_the_mail_timeout(app_config):
    from app import create_app

    del app_config["OUTBOX_LEASE_SECONDS"]
    app = create_app({**app_config, "MAIL_TIMEOUT": 7})
    assert app.extensions["outbox"].lease_seconds == 21
    assert app.config["OUTBOX_LEASE_SECONDS"] == 21


def test_retries_back_off_exponentially_up_to_the_cap(app, runner):
    outbox = app.extensions["outbox"]
    outbox.retry_seconds, outbox.max_backoff = 10, 35
    stored_request(app)

    def schedule() -> tuple[int, float]:
        with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
            attempts, due = db.execute(
                "SELECT attempts, next_attempt_at FROM requests"
            ).fetchone()
        return attempts, round(due - time.time())

    deliver(runner, exit_code=1)
    assert schedule() == (1, 10)
    # Not due yet: a run right away leaves it alone.
    assert "failed 0" in deliver(runner)
    assert schedule() == (1, 10)
    delays = []
    for _ in range(4):
        deliver(runner, "--now", exit_code=1)  # after a "fix": try at once
        delays.append(schedule())
    assert delays == [(2, 20), (3, 35), (4, 35), (5, 35)]


def test_deliver_now_sends_what_waits_for_its_retry_after_a_fix(
    app, runner, mail_server
):
    app.extensions["outbox"].retry_seconds = 600
    stored_request(app)
    deliver(runner, exit_code=1)
    mail_server.start()
    assert "delivered 0" in deliver(runner)  # waits for its retry time
    assert "delivered 1" in deliver(runner, "--now")
    assert len(mail_server.received) == 1


# --- One form submission, one request ---


def hidden_fields(html: str) -> dict[str, str]:
    """The form's hidden inputs (CSRF token, submission token), as a browser
    sends them back."""
    return dict(
        re.findall(r'<input [^>]*name="([^"]+)" type="hidden" value="([^"]*)"', html)
    )


def received_reference(server_url: str, session) -> str:
    page = session.get(server_url + "/en/request-appointment/received", timeout=10)
    return re.search(r"[3-9A-Y]{3}-[3-9A-Y]{3}", page.text).group(0)


def test_the_same_form_posted_twice_is_one_request(app, server_url, mail_server):
    session = requests.Session()
    url = server_url + "/en/request-appointment"
    page = session.get(url, timeout=10).text
    data = {**VALID_ANSWERS, "first_name": "Twice", **hidden_fields(page)}
    first = session.post(url, data=data, allow_redirects=False, timeout=10)
    reference = received_reference(server_url, session)
    second = session.post(url, data=data, allow_redirects=False, timeout=10)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert received_reference(server_url, session) == reference
    assert queued(app) == 1

    mail_server.start()
    deliver(runner=app.test_cli_runner())
    # Back, then send again after it was delivered: still the same request.
    third = session.post(url, data=data, allow_redirects=False, timeout=10)
    assert third.status_code == 303
    assert received_reference(server_url, session) == reference
    # Stored before the 303 or not at all; a stored copy stays queued until
    # the relay has it, so nothing queued now and one mail means one request.
    assert queued(app) == 0
    assert [first_name(mail) for mail in mail_server.received] == ["Twice"]


def test_the_same_page_sent_back_with_other_answers_is_a_new_request(app, server_url):
    """Back to the page (a browser may restore it as it was, token and all),
    change the answers for a second child, send: two requests, two references."""
    session = requests.Session()
    url = server_url + "/en/request-appointment"
    page = session.get(url, timeout=10).text
    first = {**VALID_ANSWERS, "first_name": "Ana", **hidden_fields(page)}
    session.post(url, data=first, allow_redirects=False, timeout=10)
    reference = received_reference(server_url, session)
    second = {**first, "first_name": "Luis"}
    response = session.post(url, data=second, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert received_reference(server_url, session) != reference
    assert queued(app) == 2


def test_a_discarded_request_sent_again_is_stored_again(app, server_url, runner):
    session = requests.Session()
    url = server_url + "/en/request-appointment"
    page = session.get(url, timeout=10).text
    data = {**VALID_ANSWERS, **hidden_fields(page)}
    session.post(url, data=data, allow_redirects=False, timeout=10)
    reference = received_reference(server_url, session)
    result = runner.invoke(args=["outbox", "discard", reference, "--yes"])
    assert result.exit_code == 0, result.output
    assert queued(app) == 0
    session.post(url, data=data, allow_redirects=False, timeout=10)
    assert received_reference(server_url, session) != reference
    assert queued(app) == 1


def test_a_double_click_stores_one_request(app, server_url, smtp_server):
    session = requests.Session()
    url = server_url + "/en/request-appointment"
    page = session.get(url, timeout=10).text
    data = {**VALID_ANSWERS, "first_name": "Double", **hidden_fields(page)}

    def post(_):
        clicker = requests.Session()
        clicker.cookies.update(session.cookies)
        return clicker.post(url, data=data, allow_redirects=False, timeout=10)

    with ThreadPoolExecutor(4) as pool:
        statuses = [response.status_code for response in pool.map(post, range(4))]
    assert statuses == [303] * 4
    # Every copy was stored before its 303, and stays queued until the relay
    # has it: once nothing is queued, every mail a copy could send was sent.
    assert wait_until(lambda: queued(app) == 0)
    assert len(smtp_server.received) == 1


def test_a_new_form_or_another_browser_is_a_new_request(app, server_url):

    url = server_url + "/en/request-appointment"
    first_browser = requests.Session()
    page = first_browser.get(url, timeout=10).text
    data = {**VALID_ANSWERS, **hidden_fields(page)}
    first_browser.post(url, data=data, allow_redirects=False, timeout=10)
    reference = received_reference(server_url, first_browser)

    # The same person filling in the form again: a second request.
    submit(server_url, session=first_browser)
    assert received_reference(server_url, first_browser) != reference

    # Another browser replaying the first form's token gets its own request,
    # never the first one's reference.
    other = requests.Session()
    other_page = other.get(url, timeout=10).text
    other.post(
        url,
        data={**data, "csrf_token": csrf_token(other_page)},
        allow_redirects=False,
        timeout=10,
    )
    assert received_reference(server_url, other) != reference
    assert queued(app) == 3


# --- Error messages name the problem, never a secret ---


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_is_named_without_the_password(app, app_config, runner, caplog):
    from aiosmtpd.smtp import AuthResult

    def refuse(server, session, envelope, mechanism, auth_data):
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=False, handled=False)

    server = SMTPServer(
        app_config["MAIL_PORT"],
        authenticator=refuse,
        auth_required=True,
        auth_require_tls=False,
    )
    server.start()
    app.config.update(MAIL_USERNAME="site", MAIL_PASSWORD="Wr0ng-horse-battery")
    stored_request(app)
    try:
        output = deliver(runner, exit_code=1)
    finally:
        server.stop()
    assert "refused the login" in output and "MAIL_PASSWORD" in output
    assert "Wr0ng-horse-battery" not in output + caplog.text


def test_an_unset_mail_server_is_named(app, runner):
    app.config["MAIL_SERVER"] = None
    stored_request(app)
    assert "MAIL_SERVER is not set" in deliver(runner, exit_code=1)


# --- Private from the first moment ---


def test_the_outbox_folder_and_files_are_private_from_creation(tmp_path, app_config):
    from app import create_app

    folder = tmp_path / "new" / "outbox"
    production = {
        "SECRET_KEY": "s",
        "SITE_URL": "https://immunotherapy.example.org",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": app_config["MAIL_PORT"],
        "MAIL_DEFAULT_SENDER": "website@clinic.example",
        "CLINIC_INBOX": "appointments@clinic.example",
        "OUTBOX_PATH": str(folder / "outbox.sqlite3"),
        "OUTBOX_KEY": app_config["OUTBOX_KEY"],
    }
    old_umask = os.umask(0o022)  # the usual default: new files 0644
    try:
        app = create_app(production)  # the start-up check runs first
        assert app.test_cli_runner().invoke(args=["outbox", "init"]).exit_code == 0
        stored_request(app)
        with sqlite3.connect(production["OUTBOX_PATH"]) as db:
            db.execute("SELECT COUNT(*) FROM requests").fetchone()
            modes = {
                path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()
            }
    finally:
        os.umask(old_umask)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert modes == {
        "outbox.sqlite3": 0o600,
        "outbox.sqlite3-wal": 0o600,
        "outbox.sqlite3-shm": 0o600,
    }


# --- Every inbox, exactly once ---


class RefusingHandler(RecordingHandler):
    """A relay that answers 550 for the inboxes in ``refuse`` (until cleared)
    and keeps, for each message, the inboxes it accepted it for."""

    def __init__(self, refuse: set[str]) -> None:
        super().__init__()
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def inboxes_reached(relay: SMTPServer) -> list[str]:
    return sorted(inbox for mail in relay.received for inbox in mail.rcpt_tos)


@pytest.mark.parametrize(
    "refused", [["b@clinic.example"], ["a@clinic.example", "b@clinic.example"]]
)
def test_a_refusing_inbox_is_retried_on_its_own_and_reached_once(
    app, app_config, client, runner, caplog, refused
):
    caplog.set_level(logging.INFO)
    app.config["CLINIC_INBOX"] = ["a@clinic.example", "b@clinic.example"]
    stored_request(app, "Twoinboxes")
    relay = SMTPServer(app_config["MAIL_PORT"])
    relay.handler = RefusingHandler(set(refused))
    relay.start()
    try:
        output = deliver(runner, exit_code=1)
        assert "delivered 0, failed 1, still queued 1" in output
        assert "permanently refused the inbox b@clinic.example (SMTP 550)" in output
        # Refused for good: the monitor hears of it now, not after 5 tries.
        check = client.get("/healthz/delivery")
        assert check.status_code == 503 and check.json["outbox"]["failing"] == 1
        relay.handler.refuse.clear()  # the clinic fixed the inbox
        deliver(runner, "--now")
    finally:
        relay.stop()
    assert inboxes_reached(relay) == ["a@clinic.example", "b@clinic.example"]
    assert queued(app) == 0
    assert client.get("/healthz/delivery").status_code == 200
    # Every message names both inboxes; the envelope alone says who got it.
    assert {mail.message["To"] for mail in relay.received} == {
        "a@clinic.example, b@clinic.example"
    }
    [reference] = {
        message.split()[2]
        for message in caplog.messages
        if message.startswith("outbox: request ")
    }
    log = [m for m in caplog.messages if reference in m]
    assert f"outbox: request {reference} sent to b@clinic.example" in log
    assert f"outbox: request {reference} delivered to every inbox" in log


class BusyForOneInboxHandler(RecordingHandler):
    """A relay that takes the first inbox, then answers 421 ("try later") for
    the second: smtplib hangs up before the message, so no inbox has it."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = True

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if self.busy and address == "b@clinic.example":
            return "421 4.3.2 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_relay_busy_for_one_inbox_leaves_every_inbox_to_try_again(
    app, app_config, runner
):
    app.config["CLINIC_INBOX"] = ["a@clinic.example", "b@clinic.example"]
    stored_request(app, "Busyrelay")
    relay = SMTPServer(app_config["MAIL_PORT"])
    relay.handler = BusyForOneInboxHandler()
    relay.start()
    try:
        deliver(runner, exit_code=1)
        assert relay.received == [], "the relay hung up before the message"
        relay.handler.busy = False
        deliver(runner, "--now")
    finally:
        relay.stop()
    # Inbox a was never sent the message the first time: it gets it now.
    assert inboxes_reached(relay) == ["a@clinic.example", "b@clinic.example"]
    assert queued(app) == 0


class QuitDroppingSMTP(SMTP):
    """Accepts the message, then hangs up on QUIT without answering it."""

    async def smtp_QUIT(self, arg: str) -> None:
        self.transport.close()


class QuitDroppingController(Controller):
    def factory(self):
        return QuitDroppingSMTP(self.handler, **self.SMTP_kwargs)


def test_a_relay_that_hangs_up_on_quit_after_accepting_gets_one_email(
    app, app_config, runner
):
    """The message was accepted before QUIT: it is delivered, never resent."""
    stored_request(app, "Hangup")
    handler = RecordingHandler()
    relay = QuitDroppingController(
        handler, hostname="127.0.0.1", port=app_config["MAIL_PORT"]
    )
    relay.start()
    try:
        assert "delivered 1, failed 0, still queued 0" in deliver(runner)
        assert "delivered 0" in deliver(runner, "--now")
    finally:
        relay.stop()
    assert len(handler.received) == 1
    assert queued(app) == 0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(
    ("requires", "advice"),
    [
        ("starttls", "requires TLS (SMTP 530): turn on MAIL_USE_TLS"),
        ("login", "requires a login (SMTP 530): set MAIL_USERNAME and MAIL_PASSWORD"),
    ],
)
def test_a_relay_answering_530_says_what_to_turn_on(
    app, app_config, runner, tls_files, requires, advice
):
    """530 means "STARTTLS first" or "log in first": each gets its own fix."""
    server_cert, _ = tls_files
    if requires == "starttls":
        options = {
            "tls_context": server_context(server_cert),
            "require_starttls": True,
        }
    else:
        options = {
            "authenticator": Authenticator(),
            "auth_required": True,
            "auth_require_tls": False,
        }
    relay = SMTPServer(app_config["MAIL_PORT"], **options)
    relay.start()
    stored_request(app)
    try:
        output = deliver(runner, exit_code=1)
    finally:
        relay.stop()
    assert advice in output
    assert "refused the sender" not in output


# --- What the operator can do about a request refused for good ---


def test_list_gives_ages_rounded_down_as_an_operator_reads_them(
    app, runner, time_machine
):
    time_machine.move_to(time.time(), tick=False)
    outbox = app.extensions["outbox"]
    outbox.add(STORED_ANSWERS, mail_domain="clinic.example")
    for seconds, age in [
        (45, "45 s"),
        (3599, "59 min"),
        (5400 + 59, "1 h 30 min"),
        (36 * 3600, "36 h 00 min"),
        (40 * 86400 + 3700, "40 d 1 h"),
    ]:
        time_machine.shift(seconds)
        listing = runner.invoke(args=["outbox", "list"]).output
        assert f"  waiting {age}  " in listing, listing
        time_machine.shift(-seconds)


def test_list_retry_and_discard_by_reference_with_no_personal_data(
    app, app_config, runner, caplog
):
    caplog.set_level(logging.INFO)
    app.config["CLINIC_INBOX"] = ["a@clinic.example", "b@clinic.example"]
    outbox = app.extensions["outbox"]
    for name in ("Keepme", "Dropme"):
        outbox.add(
            {**STORED_ANSWERS, "first_name": name, "date_of_birth": "1958-03-27"},
            mail_domain="clinic.example",
        )
    keep, drop = [entry.reference for entry in outbox.entries()]
    relay = SMTPServer(app_config["MAIL_PORT"])
    relay.handler = RefusingHandler({"b@clinic.example"})
    relay.start()
    try:
        deliver(runner, exit_code=1)
        listing = runner.invoke(args=["outbox", "list"])
        assert listing.exit_code == 0
        lines = listing.output.splitlines()
        assert lines[0].startswith(f"{keep}  waiting ")
        assert "attempts 1" in lines[0] and lines[0].endswith("to b@clinic.example")
        assert lines[1] == (
            "    last error: the relay 127.0.0.1:"
            f"{app_config['MAIL_PORT']} permanently refused the inbox"
            " b@clinic.example (SMTP 550): check CLINIC_INBOX"
        )
        assert lines[-1] == "2 request(s) waiting"
        for typed in ("Keepme", "Dropme", "Lopez", "1958", "5550123"):
            assert typed not in listing.output

        # Still refused: the retry says so, and the request stays.
        retry = runner.invoke(args=["outbox", "retry", keep.lower()])
        assert retry.exit_code == 1 and f"request {keep} is still waiting" in (
            retry.output
        )
        relay.handler.refuse.clear()
        retry = runner.invoke(args=["outbox", "retry", keep.replace("-", "")])
        assert retry.exit_code == 0, retry.output
        assert f"Request {keep} delivered" in retry.output

        # Discard asks first; "no" keeps it.
        declined = runner.invoke(args=["outbox", "discard", drop], input="n\n")
        assert declined.exit_code == 1 and outbox.find(drop) is not None
        assert "It has not reached b@clinic.example" in declined.output
        done = runner.invoke(args=["outbox", "discard", drop], input="y\n")
        assert done.exit_code == 0 and f"Request {drop} discarded" in done.output
        assert outbox.find(drop) is None
        gone = runner.invoke(args=["outbox", "retry", drop])
        assert gone.exit_code == 1 and f"no request {drop} is waiting" in gone.output
    finally:
        relay.stop()
    # The first never reached b@ twice; the discarded one never reached b@.
    assert inboxes_reached(relay) == [
        "a@clinic.example",
        "a@clinic.example",
        "b@clinic.example",
    ]
    assert queued(app) == 0
    assert any(
        record.levelno == logging.WARNING
        and record.getMessage()
        == f"outbox: request {drop} discarded by an operator; never delivered to"
        " b@clinic.example"
        for record in caplog.records
    )
    assert "Dropme" not in caplog.text and "1958" not in caplog.text
