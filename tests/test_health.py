"""Health checks and exit statuses tell the truth: a server that cannot take a
request says so, and so does a relay that stopped taking them; a damaged
outbox is a clear message everywhere, never a traceback."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import OUTBOX_KEY
from helpers import VALID_ANSWERS
from helpers import csrf_token
from helpers import post_form
from helpers import stored_request
from helpers import submit

from app import create_app
from app.config import StartupError

ROOT = Path(__file__).resolve().parent.parent
MARKER = "Philomena-5c2d"


@pytest.fixture
def app_config(app_config):
    """Retry at once; a request is "late" after 2 s instead of 15 minutes."""
    app_config.update(OUTBOX_RETRY_SECONDS=0, OUTBOX_ALERT_SECONDS=2)
    return app_config


def cron_env(app_config: dict) -> dict[str, str]:
    """The settings as the cron line loads them from the env file."""
    env = {"PATH": os.environ["PATH"], "FLASK_APP": "app"}
    for key in (
        "SECRET_KEY",
        "SITE_URL",
        "OUTBOX_PATH",
        "MAIL_SERVER",
        "MAIL_PORT",
        "MAIL_DEFAULT_SENDER",
        "CLINIC_INBOX",
        "OUTBOX_KEY",
        "OUTBOX_RETRY_SECONDS",
        "OUTBOX_ALERT_SECONDS",
    ):
        env[f"FLASK_{key}"] = str(app_config[key])
    return env


def flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A `flask` command as cron or systemd runs it: its own process."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def health(server_url: str, path: str = "/healthz") -> requests.Response:
    return requests.get(server_url + path, timeout=10)


def test_a_healthy_server_reports_counts_only(app, server_url, mail_server):
    submit(server_url, first_name=MARKER)  # the relay is down: it stays queued
    for path in ("/healthz", "/healthz/delivery"):
        response = health(server_url, path)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
        assert response.json()["outbox"]["queued"] == 1
        assert "no-store" in response.headers["Cache-Control"]
        assert MARKER not in response.text and "@" not in response.text


def test_relay_down_fires_the_alert_and_its_recovery_clears_it(
    app, app_config, server_url, mail_server, time_machine
):
    """The documented alert (a monitor on /healthz/delivery, and the deliver
    service's exit status) fires during an outage and clears after it."""
    env = cron_env(app_config)
    assert submit(server_url, first_name=MARKER).status_code == 303
    ran = flask("outbox", "deliver", env=env)
    assert ran.returncode == 1  # a send failed in this run
    assert "refused the connection" in ran.stderr
    assert "Traceback" not in ran.stderr and MARKER not in ran.stderr

    # Past OUTBOX_ALERT_SECONDS, for this process (the app serving over HTTP).
    time_machine.move_to(time.time() + 3, tick=True)
    delivery = health(server_url, "/healthz/delivery")
    assert delivery.status_code == 503
    assert delivery.headers["Retry-After"]
    assert "OUTBOX_ALERT_SECONDS" in delivery.json()["reason"]
    assert MARKER not in delivery.text
    # Mail is late, but this server still takes requests: the balancer keeps it.
    assert health(server_url).status_code == 200

    mail_server.start()
    ran = flask("outbox", "deliver", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "delivered 1" in ran.stdout
    assert len(mail_server.received) == 1
    assert health(server_url, "/healthz/delivery").status_code == 200
    assert flask("outbox", "deliver", env=env).returncode == 0


def test_a_request_past_the_alert_age_fails_the_run_even_if_nothing_was_due(
    app, app_config, runner, mail_server, time_machine
):
    app.config.update(OUTBOX_RETRY_SECONDS=3600)
    app.extensions["outbox"].retry_seconds = 3600
    stored_request(app, MARKER)
    assert runner.invoke(args=["outbox", "deliver"]).exit_code == 1  # failed
    result = runner.invoke(args=["outbox", "deliver"])  # not due yet
    assert "failed 0" in result.output and result.exit_code == 0
    time_machine.move_to(time.time() + 3, tick=True)  # past OUTBOX_ALERT_SECONDS
    result = runner.invoke(args=["outbox", "deliver"])
    assert "failed 0" in result.output and result.exit_code == 1
    assert "OUTBOX_ALERT_SECONDS" in result.output


def test_a_request_that_keeps_failing_makes_the_delivery_check_fail(
    app, client, runner, mail_server
):
    app.extensions["outbox"].failing_after = 2
    app.config["OUTBOX_ALERT_SECONDS"] = 3600
    stored_request(app, MARKER)
    runner.invoke(args=["outbox", "deliver"])
    assert client.get("/healthz/delivery").status_code == 200
    runner.invoke(args=["outbox", "deliver"])
    response = client.get("/healthz/delivery")
    assert response.status_code == 503
    assert "keep failing" in response.json["reason"]


def damage(path: str) -> None:
    """Overwrite the outbox with junk, as a failing disk or a bad copy would."""
    Path(path).write_bytes(b"this is not an outbox " * 400)


def test_a_damaged_outbox_at_run_time_is_a_503_everywhere_and_a_clear_error(
    app, app_config, client, runner, caplog
):
    page = client.get("/es/solicitar-cita").get_data(as_text=True)
    damage(app_config["OUTBOX_PATH"])

    response = client.post(
        "/es/solicitar-cita",
        data={**VALID_ANSWERS, "last_name": MARKER, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.get_data(as_text=True)
    # The form again, in Spanish, with what the patient typed (issue 9.4).
    assert "el sitio web no pudo guardar su solicitud" in body
    assert f'value="{MARKER}"' in body
    assert "Traceback" not in body

    for path in ("/healthz", "/healthz/delivery"):
        check = client.get(path)
        assert check.status_code == 503
        assert check.headers["Retry-After"]
        assert "not a database" in check.json["reason"]

    for command in (["outbox", "deliver"], ["outbox", "status"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 3, result.output
        assert "is damaged" in result.output and "move the file aside" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not any(record.exc_info for record in caplog.records)
    assert MARKER not in caplog.text


def test_an_outbox_file_gone_at_run_time_fails_the_write_probe(app, app_config, client):
    """The folder is still there and writable (a folder check would pass);
    only a real write shows the outbox cannot take a request."""
    for end in ("", "-wal", "-shm"):
        Path(app_config["OUTBOX_PATH"] + end).unlink(missing_ok=True)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "outbox cannot be written" in response.json["reason"]
    assert not Path(app_config["OUTBOX_PATH"]).exists()  # not re-created 0644


def damage_one_page(path: str) -> None:
    """Thirty requests queued, then one page of the file overwritten."""
    outbox_config = {"OUTBOX_PATH": path}
    app = create_app({"TESTING": True, "OUTBOX_KEY": OUTBOX_KEY, **outbox_config})
    for _ in range(30):
        stored_request(app, MARKER)
    with open(path, "r+b") as handle:
        handle.seek(3 * 4096)
        handle.write(os.urandom(4096))


@pytest.mark.parametrize("how", [damage, damage_one_page])
def test_a_damaged_outbox_stops_the_start_with_one_message(app_config, how):
    how(app_config["OUTBOX_PATH"])
    with pytest.raises(StartupError) as stopped:
        create_app(app_config)
    [problem] = stopped.value.problems
    assert problem.startswith(f"OUTBOX_PATH: {app_config['OUTBOX_PATH']} is damaged")
    assert ".recover" in problem

    # And from cron: one message and a non-zero exit, no traceback.
    ran = flask("outbox", "deliver", env=cron_env(app_config))
    assert ran.returncode != 0
    assert "The site cannot start:" in ran.stderr and "is damaged" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 2


def test_the_write_probe_leaves_no_personal_data_and_no_request(app, client):
    assert client.get("/healthz").status_code == 200
    with sqlite3.connect(app.config["OUTBOX_PATH"]) as db:
        assert db.execute("SELECT COUNT(*) FROM requests").fetchone() == (0,)


def documented_cron_command(document: Path) -> str:
    """The command of the cron line a document shows, without its logger pipe."""
    line = re.search(r"^\* \* \* \* \* clinic-site (.+)$", document.read_text(), re.M)
    command, _, logger = line.group(1).partition(" 2>&1 | ")
    assert logger.startswith("logger ")
    return command


def test_the_documented_cron_line_loads_the_settings_and_runs(
    app, app_config, tmp_path, mail_server
):
    """The deploy guide's cron line, run as cron would (sh, an empty
    environment), with this machine's paths."""
    command = documented_cron_command(ROOT / "docs/deploy.md")
    env_file = tmp_path / "env"
    env_file.write_text(
        "".join(f"{key}='{value}'\n" for key, value in cron_env(app_config).items())
    )
    lock = tmp_path / "deliver.lock"
    command = (
        command.replace("/srv/clinic-site/app", str(ROOT))
        .replace(
            "/srv/clinic-site/venv/bin/flask",
            str(Path(sys.executable).parent / "flask"),
        )
        .replace("/etc/clinic-site/env", str(env_file))
        .replace("/run/lock/clinic-site-deliver.lock", str(lock))
    )
    stored_request(app, MARKER)

    def cron() -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "-c", command], env={}, capture_output=True, text=True, timeout=60
        )

    ran = cron()  # the relay is down
    assert ran.returncode == 1 and "refused the connection" in ran.stderr
    mail_server.start()
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a previous run still busy
        assert cron().returncode == 1
        assert mail_server.received == []
    ran = cron()
    assert ran.returncode == 0, ran.stderr
    assert "delivered 1" in ran.stdout and len(mail_server.received) == 1


# --- Outside debug and testing, only `flask outbox init` makes an outbox ---


@pytest.fixture
def production_app(app_config):
    """The app as gunicorn runs it (not TESTING), after `flask outbox init`."""
    app = create_app({**app_config, "TESTING": False})
    assert app.test_cli_runner().invoke(args=["outbox", "init"]).exit_code == 0
    return app


def delete_outbox(path: str) -> None:
    for end in ("", "-wal", "-shm"):
        Path(path + end).unlink(missing_ok=True)


def replace_with_an_empty_database(path: str) -> None:
    delete_outbox(path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY)")


def replace_with_another_sites_outbox(path: str) -> None:
    from cryptography.fernet import Fernet

    from app.appointments.outbox import Outbox

    delete_outbox(path)
    Outbox(path, [Fernet.generate_key().decode()]).init()


@pytest.mark.parametrize(
    ("how", "reason", "cron_status"),
    [
        (delete_outbox, "does not exist", 3),
        (
            replace_with_an_empty_database,
            "is not an outbox made by `flask outbox init`",
            3,
        ),
        # A new process finds the wrong key at start: the one-message start-up
        # error (status 1), as for a damaged outbox.
        (replace_with_another_sites_outbox, "OUTBOX_KEY does not open", 1),
    ],
)
def test_a_lost_or_replaced_outbox_stays_red_until_flask_outbox_init(
    production_app, app_config, how, reason, cron_status
):
    app = production_app
    client, runner = app.test_client(), app.test_cli_runner()
    path = app_config["OUTBOX_PATH"]
    stored_request(app, MARKER)
    page = client.get("/es/solicitar-cita").get_data(as_text=True)
    how(path)
    before = [Path(path + end).exists() for end in ("", "-wal", "-shm")]

    response = client.post(
        "/es/solicitar-cita",
        data={**VALID_ANSWERS, "last_name": "Quintana", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 503
    assert 'value="Quintana"' in response.get_data(as_text=True)
    for check in ("/healthz", "/healthz/delivery"):
        answer = client.get(check)
        assert answer.status_code == 503 and reason in answer.json["reason"]
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 3 and reason in result.output
    # And from the timer, in a process of its own: the same, no traceback.
    env = {**cron_env(app_config), "FLASK_OUTBOX_KEY": app_config["OUTBOX_KEY"]}
    ran = flask("outbox", "deliver", env=env)
    assert ran.returncode == cron_status, ran.stderr
    assert reason in ran.stderr and "Traceback" not in ran.stderr
    assert "delivered" not in ran.stdout
    # Nothing made a new, empty outbox meanwhile.
    assert [Path(path + end).exists() for end in ("", "-wal", "-shm")] == before

    if how is not delete_outbox:
        refused = runner.invoke(args=["outbox", "init"])
        assert refused.exit_code == 1 and "already exists" in refused.output
        delete_outbox(path)  # the operator moves it aside
    assert runner.invoke(args=["outbox", "init"]).exit_code == 0
    for check in ("/healthz", "/healthz/delivery"):
        assert client.get(check).status_code == 200
    assert flask("outbox", "deliver", env=env).returncode == 0


def test_429s_of_the_last_hour_are_counted_for_the_monitor(app_config):
    """A site turning patients away is seen, with no client in the counts."""
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_RATE_LIMIT="1 per minute")
    app = create_app(app_config)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.61"
    assert post_form(client).status_code == 303
    assert [post_form(client).status_code for _ in range(6)] == [429] * 6
    monitor = app.test_client().get("/healthz/delivery")
    assert monitor.get_json()["refused_last_hour"] == {"per_client": 6, "everyone": 0}
    assert "198.51.100.61" not in monitor.get_data(as_text=True)
    status = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert status.exit_code == 0, status.output
    assert "refused (429) last hour: per client 6, everyone limit 0" in status.output
    assert "198.51.100" not in status.output


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", ""])
def test_an_untrusted_proxy_in_front_is_one_warning_and_a_red_monitor(
    app_config, caplog, peer
):
    app_config["TRUSTED_PROXIES"] = 0
    app = create_app(app_config)
    client = app.test_client()
    # nginx on this machine (loopback, or the unix socket: no address).
    client.environ_base["REMOTE_ADDR"] = peer
    forwarded = {"X-Forwarded-For": "203.0.113.40"}
    for _ in range(3):
        assert (
            client.get("/en/request-appointment", headers=forwarded).status_code == 200
        )
    [warning] = [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert "every patient counts as one client" in warning.getMessage()
    assert "203.0.113.40" not in caplog.text
    monitor = app.test_client().get("/healthz/delivery")
    assert monitor.status_code == 503
    assert "TRUSTED_PROXIES" in monitor.get_json()["reason"]


@pytest.mark.parametrize(("trusted", "peer"), [(1, "127.0.0.1"), (0, "198.51.100.9")])
def test_a_trusted_proxy_or_a_direct_client_is_no_warning(
    app_config, caplog, trusted, peer
):
    """TRUSTED_PROXIES=1 behind nginx; or X-Forwarded-For from the internet,
    which is a client's own header, not our proxy."""
    app_config["TRUSTED_PROXIES"] = trusted
    app = create_app(app_config)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    headers = {"X-Forwarded-For": "203.0.113.40"}
    assert client.get("/en/request-appointment", headers=headers).status_code == 200
    assert "TRUSTED_PROXIES" not in caplog.text
    assert app.test_client().get("/healthz/delivery").status_code == 200
