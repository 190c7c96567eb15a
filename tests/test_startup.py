"""Outside debug and testing, the site refuses to start without what it needs.

One message lists every problem, with no traceback, whether the site is
started by create_app, by gunicorn or by the flask command.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from helpers import OUTBOX_KEY
from helpers import STORED_ANSWERS
from servers import gunicorn_command
from servers import production_env
from servers import run

from app import config as site_config
from app import create_app
from app.appointments import local_key
from app.config import StartupError

REQUIRED = (
    "SECRET_KEY",
    "SITE_URL",
    "MAIL_SERVER",
    "MAIL_DEFAULT_SENDER",
    "CLINIC_INBOX",
    "OUTBOX_KEY",
)


def production_config(tmp_path: Path, **overrides) -> dict:
    """What the env file of a correct deployment sets, as config keys."""
    config = {
        "SECRET_KEY": "a-production-secret",
        "SITE_URL": "https://immunotherapy.example.org",
        "MAIL_SERVER": "smtp.example.org",
        "MAIL_USE_TLS": True,
        "MAIL_DEFAULT_SENDER": "Website <website@example.org>",
        "CLINIC_INBOX": "appointments@example.org",
        "OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "OUTBOX_KEY": OUTBOX_KEY,
    }
    config.update(overrides)
    return config


def start_problems(config: dict) -> list[str]:
    """The problems a production start with ``config`` reports."""
    with pytest.raises(StartupError) as caught:
        create_app(config)
    message = str(caught.value.code)
    assert message.startswith("The site cannot start:")
    for problem in caught.value.problems:
        assert problem in message
    return caught.value.problems


def test_a_complete_production_config_starts(tmp_path):
    app = create_app(production_config(tmp_path))
    assert not app.testing and not app.debug
    assert app.test_client().get("/en/immunotherapy").status_code == 200


def test_every_missing_setting_is_listed_at_once(tmp_path):
    config = production_config(tmp_path, **dict.fromkeys(REQUIRED))
    problems = start_problems(config)
    assert len(problems) == len(REQUIRED)
    for key, problem in zip(REQUIRED, problems, strict=True):
        assert problem.startswith(f"{key} is not set")
        assert f"FLASK_{key}" in problem, "the message says which variable to set"


def test_invalid_addresses_are_named(tmp_path):
    config = production_config(
        tmp_path,
        CLINIC_INBOX=["appointments@example.org", "front desk@example.org"],
        MAIL_DEFAULT_SENDER="Website <website@>",
    )
    problems = start_problems(config)
    assert len(problems) == 2
    assert problems[0].startswith("CLINIC_INBOX: 'front desk@example.org'")
    assert problems[1].startswith("MAIL_DEFAULT_SENDER: 'Website <website@>'")


def test_a_bad_sender_given_as_name_and_address_is_named_as_it_would_be_sent(
    tmp_path,
):
    config = production_config(tmp_path, MAIL_DEFAULT_SENDER=["Website", "website@"])
    [problem] = start_problems(config)
    assert problem.startswith("MAIL_DEFAULT_SENDER: 'Website <website@>': ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("appointments@example.org", ["appointments@example.org"]),
        (["a@example.org", "b@example.org"], ["a@example.org", "b@example.org"]),
        ('["a@example.org", "b@example.org"]', ["a@example.org", "b@example.org"]),
    ],
)
def test_clinic_inbox_is_one_address_or_a_json_list(tmp_path, value, expected):
    app = create_app(production_config(tmp_path, CLINIC_INBOX=value))
    assert app.config["CLINIC_INBOX"] == expected


def test_clinic_inbox_from_the_environment(tmp_path, monkeypatch):
    inboxes = ["a@example.org", "b@example.org"]
    monkeypatch.setenv("FLASK_CLINIC_INBOX", json.dumps(inboxes))
    config = production_config(tmp_path)
    del config["CLINIC_INBOX"]
    app = create_app(config)
    assert app.config["CLINIC_INBOX"] == inboxes


def test_a_production_start_creates_no_outbox_and_init_does_once(tmp_path):
    outbox = tmp_path / "var" / "lib" / "site" / "outbox.sqlite3"
    app = create_app(production_config(tmp_path, OUTBOX_PATH=str(outbox)))
    assert not outbox.parent.exists()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "init"])
    assert result.exit_code == 0, result.output
    assert outbox.is_file() and outbox.parent.stat().st_mode & 0o777 == 0o700
    again = runner.invoke(args=["outbox", "init"])
    assert again.exit_code == 1
    assert f"An outbox already exists at {outbox}; nothing changed" in again.output


def test_a_file_where_the_outbox_folder_should_be_is_named_in_debug_too(tmp_path):
    # Debug and testing make the outbox themselves (no folder check before):
    # the message must say it cannot be used, not "already exists" or "run init".
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    outbox = blocker / "outbox.sqlite3"
    with pytest.raises(StartupError) as stopped:
        create_app({"TESTING": True, "OUTBOX_PATH": str(outbox)})
    [problem] = stopped.value.problems
    assert problem.startswith(
        f"OUTBOX_PATH: {outbox} cannot be used ({blocker} is not a folder)"
    )


def test_the_outbox_defaults_to_the_instance_folder(tmp_path):
    # The key of the outbox that tests in debug and testing keep there.
    instance = Path(create_app({"TESTING": True}).instance_path)
    key = local_key(str(instance))
    config = production_config(tmp_path, OUTBOX_KEY=key)
    del config["OUTBOX_PATH"]
    app = create_app(config)
    assert app.config["OUTBOX_PATH"] == str(Path(app.instance_path, "outbox.sqlite3"))


def test_an_unwritable_outbox_folder_stops_the_start(tmp_path):
    # A file where the folder should be: no user, not even root, can write there.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = production_config(
        tmp_path, OUTBOX_PATH=str(blocker / "outbox.sqlite3"), MAIL_SERVER=None
    )
    problems = start_problems(config)
    assert problems[0].startswith("MAIL_SERVER is not set")
    assert problems[1].startswith(f"OUTBOX_PATH: the folder {blocker} cannot be")


@pytest.mark.parametrize("value", ["two", -1, True])
def test_a_malformed_trusted_proxies_stops_the_start(tmp_path, value):
    problems = start_problems(production_config(tmp_path, TRUSTED_PROXIES=value))
    assert problems == [
        f"TRUSTED_PROXIES: {value!r} is not a number of proxies; set it to how"
        " many proxies are in front of the site (0, 1, 2...)"
    ]


def test_a_malformed_outbox_key_is_named_never_shown(tmp_path):
    secret = "c2VjcmV0LWJ1dC1ub3QtYS1mZXJuZXQta2V5"
    problems = start_problems(production_config(tmp_path, OUTBOX_KEY=secret))
    assert problems == [
        "OUTBOX_KEY: the key is not a Fernet key (44 characters of URL-safe"
        " base64); make one with python3 -c 'from cryptography.fernet import"
        " Fernet; print(Fernet.generate_key().decode())'"
    ]
    keys = json.dumps([OUTBOX_KEY, secret])
    [problem] = start_problems(production_config(tmp_path, OUTBOX_KEY=keys))
    assert problem.startswith("OUTBOX_KEY: key 2 of 2 is not a Fernet key")
    assert secret not in problem


def test_the_key_made_by_the_documented_command_starts_the_site(tmp_path):
    [problem] = start_problems(production_config(tmp_path, OUTBOX_KEY=None))
    command = problem.split("new key (")[1].split("; docs/deploy.md")[0]
    made = run(["sh", "-c", command.replace("python3", sys.executable)], {})
    key = made.stdout.strip()
    assert create_app(production_config(tmp_path, OUTBOX_KEY=key))


def initialised(tmp_path: Path, key: str = OUTBOX_KEY) -> dict:
    """A production config whose outbox `flask outbox init` made with ``key``."""
    config = production_config(tmp_path, OUTBOX_KEY=key)
    result = create_app(config).test_cli_runner().invoke(args=["outbox", "init"])
    assert result.exit_code == 0, result.output
    return config


def test_a_wrong_outbox_key_stops_the_start_with_one_message(tmp_path):
    config = initialised(tmp_path)
    other = Fernet.generate_key().decode()
    problems = start_problems({**config, "OUTBOX_KEY": other})
    assert problems == [
        f"OUTBOX_KEY does not open {config['OUTBOX_PATH']}: it was made with"
        " another key. Set FLASK_OUTBOX_KEY to the key it was made with (a JSON"
        " list can hold the new key first and the old one after it while you"
        " change keys)"
    ]


def test_a_new_key_first_in_the_list_takes_over_and_the_old_one_can_go(tmp_path):
    from helpers import stored_request

    config = initialised(tmp_path)
    stored_request(create_app(config), "Oldkey")
    new = Fernet.generate_key().decode()
    # Start with both keys, the new one first: what waits is re-encrypted.
    create_app({**config, "OUTBOX_KEY": json.dumps([new, OUTBOX_KEY])})
    app = create_app({**config, "OUTBOX_KEY": new})  # the old key is gone
    request = app.extensions["outbox"].claim_next()
    assert request.payload["first_name"] == "Oldkey"


def stored_by_a_worker_on_the_old_key(config, key: str, reference: str) -> None:
    """What a worker still on the old key writes if it passed its key check
    just before another process re-encrypted the outbox (the window between
    the check and the write lock), as its INSERT writes it."""
    payload = json.dumps({**STORED_ANSWERS, "first_name": "Latecomer"})
    with sqlite3.connect(config["OUTBOX_PATH"]) as db:
        db.execute(
            "INSERT INTO requests (reference, message_id, payload, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, 0, 0)",
            (reference, f"<{reference}@clinic.example>",
             Fernet(key).encrypt(payload.encode()).decode()),
        )  # fmt: skip


def test_a_request_stored_with_the_old_key_after_the_change_is_re_encrypted_too(
    tmp_path,
):
    config = initialised(tmp_path)
    new = Fernet.generate_key().decode()
    create_app({**config, "OUTBOX_KEY": json.dumps([new, OUTBOX_KEY])})
    stored_by_a_worker_on_the_old_key(config, OUTBOX_KEY, "LAT-ECO")
    # The next start with both keys re-encrypts it, though the outbox's own
    # check already opens with the new key; then the old key can go.
    create_app({**config, "OUTBOX_KEY": json.dumps([new, OUTBOX_KEY])})
    app = create_app({**config, "OUTBOX_KEY": new})
    assert app.extensions["outbox"].claim_next().payload["first_name"] == "Latecomer"


def test_a_request_no_key_opens_stops_the_start_with_a_message(tmp_path):
    """The old key dropped too soon: the outbox's own check opens, one request
    does not. A clear message naming it, never a traceback."""
    config = initialised(tmp_path)
    new = Fernet.generate_key().decode()
    create_app({**config, "OUTBOX_KEY": json.dumps([new, OUTBOX_KEY])})
    stored_by_a_worker_on_the_old_key(config, OUTBOX_KEY, "LOS-TKY")
    with pytest.raises(StartupError) as stopped:
        create_app({**config, "OUTBOX_KEY": new})
    assert "request LOS-TKY cannot be decrypted with OUTBOX_KEY" in str(stopped.value)


def test_debug_keeps_a_generated_key_in_the_instance_folder(tmp_path):
    config = {"DEBUG": True, "OUTBOX_PATH": str(tmp_path / "o.sqlite3")}
    first = create_app(config)
    key_file = Path(first.instance_path) / "outbox.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first.config["OUTBOX_KEY"] == [key_file.read_text().strip()]
    # The next start opens the same outbox.
    assert create_app(config).config["OUTBOX_KEY"] == first.config["OUTBOX_KEY"]


@pytest.mark.parametrize(
    ("settings", "allowed"),
    [
        ({"MAIL_SERVER": "smtp.example.org", "MAIL_USE_TLS": False}, False),
        ({"MAIL_SERVER": "192.0.2.25", "MAIL_USE_TLS": False}, False),
        ({"MAIL_SERVER": "smtp.example.org", "MAIL_USE_SSL": True}, True),
        ({"MAIL_SERVER": "localhost", "MAIL_USE_TLS": False}, True),
        ({"MAIL_SERVER": "127.0.0.2", "MAIL_USE_TLS": False}, True),
        ({"MAIL_SERVER": "::1", "MAIL_USE_TLS": False}, True),
        (
            {
                "MAIL_SERVER": "smtp.example.org",
                "MAIL_USE_TLS": False,
                "MAIL_ALLOW_PLAINTEXT": True,
            },
            True,
        ),
    ],
)
def test_a_relay_elsewhere_in_plain_text_stops_the_start(tmp_path, settings, allowed):
    config = production_config(tmp_path, **settings)
    if allowed:
        assert create_app(config)
        return
    [problem] = start_problems(config)
    assert problem.startswith(f"MAIL_SERVER: {settings['MAIL_SERVER']} is not on")
    assert "FLASK_MAIL_USE_TLS=true" in problem
    assert "FLASK_MAIL_ALLOW_PLAINTEXT" in problem


@pytest.mark.parametrize("mode", ["DEBUG", "TESTING"])
def test_debug_and_testing_need_no_mail_settings(tmp_path, mode):
    app = create_app({mode: True, "OUTBOX_PATH": str(tmp_path / "o.sqlite3")})
    assert app.config["SECRET_KEY"], "a throwaway key for the session"


def test_gunicorn_start_stops_with_one_message_and_no_traceback(tmp_path):
    env = production_env(
        tmp_path,
        FLASK_SECRET_KEY=None,
        FLASK_MAIL_SERVER=None,
        FLASK_CLINIC_INBOX=None,
        FLASK_OUTBOX_KEY=None,
    )
    result = run(gunicorn_command("--bind", "127.0.0.1:0"), env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "The site cannot start:"
    assert [line.split(" is not set")[0] for line in lines[1:]] == [
        "  - SECRET_KEY",
        "  - MAIL_SERVER",
        "  - CLINIC_INBOX",
        "  - OUTBOX_KEY",
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_flask_start_stops_with_one_message_and_no_traceback(tmp_path):
    env = production_env(tmp_path, FLASK_MAIL_DEFAULT_SENDER="nobody")
    result = run([sys.executable, "-m", "flask", "routes"], env)
    assert result.returncode == 1
    assert result.stderr.startswith("The site cannot start:\n")
    assert "  - MAIL_DEFAULT_SENDER: 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_clinic_time_zone_stops_the_start(app_config):
    with pytest.raises(StartupError) as caught:
        create_app({**app_config, "CLINIC_TIMEZONE": "Mars/Olympus_Mons"})
    assert "CLINIC_TIMEZONE: 'Mars/Olympus_Mons' is not a time zone" in str(
        caught.value.code
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("immunotherapy.example.org", "is not a web address"),
        ("ftp://immunotherapy.example.org", "is not a web address"),
        ("https://", "is not a web address"),
        ("https://immunotherapy.example.org/?a=b", "must not have a query"),
    ],
)
def test_a_malformed_site_url_stops_the_start(tmp_path, value, problem):
    problems = start_problems(production_config(tmp_path, SITE_URL=value))
    assert problems == [problems[0]]
    assert problems[0].startswith(f"SITE_URL: {value!r} ")
    assert problem in problems[0]


def test_site_url_must_be_a_trusted_host(tmp_path):
    config = production_config(tmp_path, TRUSTED_HOSTS=["clinic.example"])
    problems = start_problems(config)
    assert problems == [
        "SITE_URL: 'immunotherapy.example.org' is not one of TRUSTED_HOSTS"
        " ['clinic.example']"
    ]


def test_site_url_is_stored_without_a_trailing_slash(tmp_path):
    config = production_config(tmp_path, SITE_URL="https://clinic.example/")
    assert create_app(config).config["SITE_URL"] == "https://clinic.example"


@pytest.mark.parametrize("mode", ["DEBUG", "TESTING"])
def test_debug_and_testing_default_to_the_dev_server_address(tmp_path, mode):
    app = create_app({mode: True, "OUTBOX_PATH": str(tmp_path / "o.sqlite3")})
    assert app.config["SITE_URL"] == "http://127.0.0.1:5000"


def test_the_inbox_and_sender_are_stored_parsed(tmp_path):
    app = create_app(
        production_config(
            tmp_path,
            CLINIC_INBOX='["a@example.org", "b@example.org"]',
            MAIL_DEFAULT_SENDER=["Website", "website@example.org"],
        )
    )
    assert app.config["CLINIC_INBOX"] == ["a@example.org", "b@example.org"]
    assert app.config["MAIL_DEFAULT_SENDER"] == "Website <website@example.org>"


def test_missing_templates_and_translations_stop_the_start(tmp_path):
    empty = tmp_path / "no-translations"
    empty.mkdir()
    app_config = production_config(tmp_path, BABEL_TRANSLATION_DIRECTORIES=str(empty))
    problems = start_problems(app_config)
    assert problems == [
        f"{empty}/es/LC_MESSAGES/messages.mo is missing: compile the translations"
        " (pybabel compile -d translations, or `make setup`)"
    ]


def test_a_missing_template_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.setattr(
        site_config, "ESSENTIAL_TEMPLATES", ("base.html", "pages/gone.html")
    )
    problems = start_problems(production_config(tmp_path))
    assert problems == [
        "template pages/gone.html is missing: the install is incomplete"
    ]


def test_no_setting_changes_after_the_start_up_check(tmp_path, monkeypatch):
    """What the check let through (and normalised) is what the app runs with,
    through start-up and `flask freeze` alike."""
    checked = {}
    check = site_config.check

    def check_and_remember(app, **parts):
        check(app, **parts)
        checked.update(app.config)

    monkeypatch.setattr(site_config, "check", check_and_remember)
    config = production_config(
        tmp_path, TRUSTED_HOSTS=["immunotherapy.example.org"], TRUSTED_PROXIES="1"
    )
    app = create_app(config)
    # Values the check normalises or derives, once.
    assert checked["TRUSTED_PROXIES"] == 1
    assert checked["OUTBOX_LEASE_SECONDS"] == 3 * checked["MAIL_TIMEOUT"]
    result = app.test_cli_runner().invoke(
        args=["freeze", "--destination", str(tmp_path / "build")]
    )
    assert result.exit_code == 0, result.output
    changed = [key for key, value in checked.items() if app.config[key] != value]
    assert changed == []


def test_five_bad_settings_of_different_kinds_give_one_message_with_five_lines(
    tmp_path, content_copy
):
    (content_copy / "site.yaml").unlink()
    config = production_config(
        tmp_path,
        SITE_URL="immunotherapy.example.org",
        CLINIC_TIMEZONE="Pacific/Atlantis",
        OUTBOX_KEY="not-a-fernet-key",
        APPOINTMENT_RATE_LIMIT="lots",
        CONTENT_DIR=str(content_copy),
    )
    with pytest.raises(StartupError) as caught:
        create_app(config)
    lines = str(caught.value.code).splitlines()
    assert lines[0] == "The site cannot start:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - SITE_URL",
        "  - CLINIC_TIMEZONE",
        "  - OUTBOX_KEY",
        "  - APPOINTMENT_RATE_LIMIT",
        "  - site.yaml",
    ]
    assert "'Pacific/Atlantis' is not a time zone" in lines[2]
    assert "'lots' is not a rate limit" in lines[4]


def test_a_damaged_outbox_and_broken_content_are_one_message(tmp_path, content_copy):
    config = initialised(tmp_path)
    Path(config["OUTBOX_PATH"]).write_bytes(b"not an outbox, not even SQLite" * 100)
    (content_copy / "site.yaml").unlink()
    problems = start_problems({**config, "CONTENT_DIR": str(content_copy)})
    assert [problem.split(":")[0] for problem in problems] == [
        "site.yaml",
        "OUTBOX_PATH",
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("OUTBOX_FAILING_AFTER", "often"),
        ("MAIL_PORT", 70000),
        ("MAIL_TIMEOUT", 0),
        ("RATELIMIT_ENABLED", "maybe"),
        ("TRUSTED_HOSTS", "[not json"),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_without_a_traceback(tmp_path, key, value):
    [problem] = start_problems(production_config(tmp_path, **{key: value}))
    assert problem.startswith(f"{key}: ")


def test_debug_without_a_relay_sends_to_make_runs_sink_and_with_one_to_it(tmp_path):
    outbox = {"DEBUG": True, "OUTBOX_PATH": str(tmp_path / "o.sqlite3")}
    config = create_app(outbox).config
    assert (config["MAIL_SERVER"], config["MAIL_PORT"]) == ("127.0.0.1", 8025)
    assert config["CLINIC_INBOX"] == ["appointments@clinic.example"]
    relay = {"MAIL_SERVER": "smtp.example.org", "MAIL_USE_TLS": True}
    config = create_app({**outbox, **relay}).config
    assert (config["MAIL_SERVER"], config["MAIL_PORT"]) == ("smtp.example.org", None)
