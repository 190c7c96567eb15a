"""The form's limits hold as written (issue 15.4): per client (IPv6 by its
/64), for everyone together, across gunicorn workers, and across servers
sharing a real Redis."""

from __future__ import annotations

import html
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import CLINIC_PHONE
from helpers import edit_site
from helpers import post_form
from helpers import skip_or_fail
from helpers import submit
from helpers import wait_until
from servers import free_port
from servers import gunicorn
from servers import production_env

from app import create_app
from app.config import StartupError


def client_at(app, address: str):
    """A test client that connects from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def limited(app_config) -> dict:
    app_config.update(
        RATELIMIT_ENABLED=True,
        APPOINTMENT_RATE_LIMIT="1 per minute",
        APPOINTMENT_FLOOD_LIMIT="50 per minute",
    )
    return app_config


def test_ipv6_clients_are_counted_by_their_64(limited):
    app = create_app(limited)
    assert post_form(client_at(app, "2001:db8:1:2::1")).status_code == 303
    # Another address of the same /64 is the same home or phone.
    same_home = client_at(app, "2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert post_form(same_home).status_code == 429
    assert post_form(client_at(app, "2001:db8:1:3::1")).status_code == 303
    # An IPv4 client is itself, written either way.
    assert post_form(client_at(app, "198.51.100.7")).status_code == 303
    assert post_form(client_at(app, "::ffff:198.51.100.7")).status_code == 429


def test_a_flood_from_one_64_is_one_flood(app_config):
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_FLOOD_LIMIT="3 per minute")
    app = create_app(app_config)
    statuses = [
        client_at(app, f"2001:db8:5:6::{n:x}").post("/en/request-appointment")
        for n in range(1, 5)
    ]
    assert [response.status_code for response in statuses] == [400, 400, 400, 429]


@pytest.fixture
def clinic_phone(app_config, content_copy) -> dict:
    app_config["CONTENT_DIR"] = str(edit_site(content_copy, phone=CLINIC_PHONE))
    return app_config


def test_the_total_limit_caps_everyone_together(clinic_phone):
    clinic_phone.update(
        RATELIMIT_ENABLED=True,
        APPOINTMENT_RATE_LIMIT="10 per minute",
        APPOINTMENT_TOTAL_LIMIT="2 per hour",
    )
    app = create_app(clinic_phone)
    health = app.test_client()
    # Mistakes being corrected are not requests: they never count.
    first = client_at(app, "198.51.100.1")
    assert [post_form(first, first_name="").status_code for _ in range(3)] == [422] * 3
    assert post_form(first).status_code == 303
    assert health.get("/healthz/delivery").status_code == 200
    assert post_form(client_at(app, "203.0.113.9")).status_code == 303

    # A third address, and the clinic's inbox has had its hour's share.
    page = post_form(client_at(app, "192.0.2.33"), "es", first_name="Lucía")
    assert page.status_code == 429
    text = html.unescape(page.get_data(as_text=True))
    assert "Hemos recibido muchas solicitudes en la última hora" in text
    assert "También puede llamarnos al (559) 555-0100." in text
    assert 'value="Lucía"' in text  # the answers are kept
    # A script caught by the hidden trap gets the same answer: nothing tells
    # it the field is a trap.
    trapped = post_form(client_at(app, "192.0.2.34"), leave_blank="http://x.example")
    assert trapped.status_code == 429
    # The monitor says so: no one's request is taken now.
    monitor = health.get("/healthz/delivery")
    assert monitor.status_code == 503
    assert "APPOINTMENT_TOTAL_LIMIT" in monitor.get_json()["reason"]
    # Reading the form is never limited.
    assert (
        client_at(app, "192.0.2.33").get("/en/request-appointment").status_code == 200
    )


@pytest.mark.parametrize(
    "key",
    ["APPOINTMENT_RATE_LIMIT", "APPOINTMENT_FLOOD_LIMIT", "APPOINTMENT_TOTAL_LIMIT"],
)
def test_a_limit_that_is_not_a_limit_stops_the_start_with_its_name(app_config, key):
    app_config[key] = "lots"
    with pytest.raises(StartupError) as stopped:
        create_app(app_config)
    assert f"{key}: 'lots' is not a rate limit" in str(stopped.value)


def test_without_a_setting_the_store_is_a_file_every_worker_shares(app_config):
    del app_config["RATELIMIT_STORAGE_URI"]
    app = create_app(app_config)
    expected = Path(app.instance_path) / "ratelimits.sqlite3"
    assert app.config["RATELIMIT_STORAGE_URI"] == f"sqlite://{expected}"


def test_two_apps_on_one_store_share_the_count(limited):
    """Two workers are two copies of the app: one store, one count."""
    first, second = create_app(limited), create_app(dict(limited))
    assert post_form(client_at(first, "198.51.100.1")).status_code == 303
    assert post_form(client_at(second, "198.51.100.1")).status_code == 429


def test_three_workers_and_five_per_minute_let_one_client_send_five(tmp_path):
    env = production_env(
        tmp_path,
        FLASK_APPOINTMENT_RATE_LIMIT="5 per minute",
        FLASK_APPOINTMENT_FLOOD_LIMIT="100 per minute",
        # Nothing listens: the requests wait in the outbox, as they may.
        FLASK_MAIL_PORT=str(free_port()),
    )
    with gunicorn(env, tmp_path / "gunicorn.log", workers=3) as server:
        statuses = [submit(server.url).status_code for _ in range(15)]
        log = server.log()
    assert statuses == [303] * 5 + [429] * 10, log
    assert log.count("Booting worker") >= 3


# --- Several servers sharing Redis ---


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """A real redis-server of its own, on a free port, saving nothing."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is missing: apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return redis.Redis.from_url(url).ping()
        except redis.ConnectionError:
            return False

    try:
        assert wait_until(answers, timeout=20), "redis-server did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_servers_sharing_redis_share_the_limits(app_config, redis_url):
    """Two servers behind one balancer: the client's count and everyone's
    count are one, wherever each request lands."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=redis_url,
        APPOINTMENT_RATE_LIMIT="2 per minute",
        APPOINTMENT_TOTAL_LIMIT="3 per hour",
    )
    one = create_app({**app_config, "OUTBOX_PATH": app_config["OUTBOX_PATH"] + "-1"})
    two = create_app({**app_config, "OUTBOX_PATH": app_config["OUTBOX_PATH"] + "-2"})
    assert post_form(client_at(one, "198.51.100.1")).status_code == 303
    assert post_form(client_at(two, "198.51.100.1")).status_code == 303
    assert post_form(client_at(one, "198.51.100.1")).status_code == 429
    # Everyone together: one more anywhere, then no more anywhere.
    assert post_form(client_at(two, "203.0.113.5")).status_code == 303
    assert post_form(client_at(one, "192.0.2.8")).status_code == 429
    assert two.test_client().get("/healthz/delivery").status_code == 503


def test_a_store_that_goes_away_lets_patients_through_and_fails_the_alert(
    app_config, tmp_path, caplog
):
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_RATE_LIMIT="1 per minute")
    with running_redis(tmp_path) as url:
        app = create_app({**app_config, "RATELIMIT_STORAGE_URI": url})
        assert post_form(client_at(app, "198.51.100.1")).status_code == 303
        assert app.test_client().get("/healthz/delivery").status_code == 200
    # Redis is gone: a request is still taken (never a 500 for a patient)...
    assert post_form(client_at(app, "198.51.100.2")).status_code == 303
    # Flask-Limiter's own line (RATELIMIT_SWALLOW_ERRORS), naming no client.
    assert "Failed to rate limit. Swallowing error" in caplog.text
    assert "198.51.100.2" not in caplog.text
    # ...and the monitor hears that the limits are off.
    monitor = app.test_client().get("/healthz/delivery")
    assert monitor.status_code == 503
    assert "the form's limits are off" in monitor.get_json()["reason"]


def test_a_store_file_that_cannot_be_written_never_stops_a_request(app_config):
    # /proc takes no new folders, even for root.
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="sqlite:///proc/no-such-folder/ratelimits.sqlite3",
    )
    app = create_app(app_config)  # starts: the store is opened on first use
    assert post_form(client_at(app, "198.51.100.1")).status_code == 303
    monitor = app.test_client().get("/healthz/delivery")
    assert monitor.status_code == 503
    assert "the form's limits are off" in monitor.get_json()["reason"]


def test_a_store_that_can_be_read_but_not_written_fails_the_alert(app_config, tmp_path):
    store = tmp_path / "ratelimits.sqlite3"
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"sqlite://{store}")
    app = create_app(app_config)
    assert post_form(client_at(app, "198.51.100.1")).status_code == 303
    assert app.test_client().get("/healthz/delivery").status_code == 200
    # The store still answers reads, but every write is refused (as on a full
    # disk): counts are lost, so the limits are off.
    with sqlite3.connect(store) as db:
        for event in ("INSERT", "UPDATE"):
            db.execute(
                f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON counters"
                " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
    assert post_form(client_at(app, "198.51.100.2")).status_code == 303
    monitor = app.test_client().get("/healthz/delivery")
    assert monitor.status_code == 503
    assert "the form's limits are off" in monitor.get_json()["reason"]
