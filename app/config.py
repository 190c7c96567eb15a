"""Configuration: defaults, the start-up check, and values normalised once.

The site refuses to start with a configuration it cannot run. Every problem is
collected first and reported at once, in one message, so an operator fixes
the environment file in one go instead of one restart per key. Values that
several parts use in a parsed form (the inbox list, the sender) are parsed
here, once, and stored back in the config.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterable
from email.utils import formataddr
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import Flask
from jinja2 import TemplateNotFound
from werkzeug.sansio.utils import host_is_trusted

from .content import LANGUAGES
from .static_files import manifest_problem

PACKAGE = Path(__file__).resolve().parent
REPOSITORY = PACKAGE.parent


def data_folder(name: str, packaged: str) -> Path:
    """``name`` at the repository root in a checkout, else the copy the wheel
    carries inside the package (pyproject.toml's force-include)."""
    checkout = REPOSITORY / name
    return checkout if checkout.is_dir() else PACKAGE / packaged


CONTENT_DIR = data_folder("content", "_content")
TRANSLATIONS_DIR = data_folder("translations", "translations")
# In debug and testing, where SITE_URL may be left unset: the dev server.
LOCAL_SITE_URL = "http://127.0.0.1:5000"

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    # The public address, e.g. https://immunotherapy.example.org: every
    # absolute URL in a page comes from it, never from the request's Host.
    "SITE_URL": None,
    "CONTENT_DIR": str(CONTENT_DIR),
    "BABEL_DEFAULT_LOCALE": "en",
    # Flask-Babel resolves relative paths against app/, so be explicit.
    "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS_DIR),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "WTF_CSRF_TIME_LIMIT": 4 * 3600,
    "RATELIMIT_ENABLED": True,
    "SERVICE_WORKER_ENABLED": True,  # off: next visit drops the offline worker
    # Default: sqlite:// in the instance folder, shared by every worker
    # (appointments/limit_store.py); redis://... for several servers.
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_HEADERS_ENABLED": False,
    # A rate-limit store that cannot be reached lets requests through (and
    # /healthz/delivery says so) rather than turn patients away with a 500.
    "RATELIMIT_SWALLOW_ERRORS": True,
    # brotli first when the browser accepts both equally: it is smaller.
    # Streamed responses are static files.
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],
    # No .gz/.br copies in app/static: nginx serves the frozen build.
    "FLASK_STATIC_DIGEST_COMPRESSION": [],
    # `flask freeze`: pages have no extension (/en/immunotherapy); they are HTML.
    "FREEZER_DEFAULT_MIMETYPE": "text/html",
    # The SMTP relay; names as Flask-Mail uses them.
    "MAIL_SERVER": None,  # required outside debug and testing
    "MAIL_PORT": None,  # 25, or 465 with MAIL_USE_SSL
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": None,
    "MAIL_TIMEOUT": 10,
    "MAIL_CA_FILE": None,  # a CA bundle to trust instead of the system's
    # A relay on another machine without TLS is refused unless this is set.
    "MAIL_ALLOW_PLAINTEXT": False,
    "CLINIC_INBOX": None,
    "CLINIC_TIMEZONE": "America/Los_Angeles",  # for times in the clinic's email
    "OUTBOX_PATH": None,  # default: <instance folder>/outbox.sqlite3
    # Encrypts every stored request: a Fernet key, or a JSON list of keys (the
    # first encrypts, all decrypt). Debug: a key kept in the instance folder.
    "OUTBOX_KEY": None,
    # A sender that dies mid-send holds its request this long; default
    # 3 x MAIL_TIMEOUT, set by the check. A sender renews its lease every third
    # of it, so a slow relay never lets it run out under a live sender.
    "OUTBOX_LEASE_SECONDS": None,
    # A request waiting longer makes /healthz/delivery 503 and
    # `flask outbox deliver` exit non-zero.
    "OUTBOX_ALERT_SECONDS": 900,
    # Retries wait 1, 2, 4 ... times this, up to the maximum.
    "OUTBOX_RETRY_SECONDS": 60,
    "OUTBOX_MAX_BACKOFF_SECONDS": 3600,
    "OUTBOX_FAILING_AFTER": 5,
    # Per client: accepted requests only, then every POST (stops floods).
    "APPOINTMENT_RATE_LIMIT": "5 per minute;30 per hour",
    "APPOINTMENT_FLOOD_LIMIT": "20 per minute;100 per hour",
    # How many proxies (nginx, a CDN) sit in front and write X-Forwarded-*
    # headers. With 0 the headers are ignored, so a client cannot forge its
    # address or scheme; with N, ProxyFix trusts the Nth value from the right.
    "TRUSTED_PROXIES": 0,
    # Everyone together, accepted requests only: a cap on what can reach the
    # clinic's inbox, however many addresses send.
    "APPOINTMENT_TOTAL_LIMIT": "200 per hour",
}

MAKE_KEY = (
    "python3 -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)
# In debug and testing without OUTBOX_KEY: a key made once, in the instance
# folder, so the development outbox stays readable across restarts.
LOCAL_KEY_FILE = "outbox.key"

# What each required key is for and how to set it, in the operator's words.
REQUIRED = {
    "SECRET_KEY": "signs sessions and form tokens: set FLASK_SECRET_KEY to a long "
    "random string (python3 -c 'import secrets; print(secrets.token_hex(32))')",
    "SITE_URL": "the site's public address, for canonical links and the sitemap: "
    "set FLASK_SITE_URL, e.g. https://immunotherapy.example.org",
    "MAIL_SERVER": "the SMTP relay that sends appointment requests: set "
    "FLASK_MAIL_SERVER",
    "MAIL_DEFAULT_SENDER": "the From address of appointment emails: set "
    "FLASK_MAIL_DEFAULT_SENDER",
    "CLINIC_INBOX": "where appointment requests are sent: set FLASK_CLINIC_INBOX "
    "to an address or a JSON list of addresses",
    "OUTBOX_KEY": "encrypts the requests waiting in the outbox: set "
    f"FLASK_OUTBOX_KEY to a new key ({MAKE_KEY}; docs/deploy.md, section 3)",
}

# Templates every page needs; their absence means a broken install.
ESSENTIAL_TEMPLATES = ("base.html", "pages/page.html", "errors/page.html")


class StartupError(SystemExit):
    """Stops the process with a message instead of a traceback.

    A SystemExit subclass, so ``flask run``, ``gunicorn`` and ``python`` all
    print just the message and exit with status 1.
    """

    def __init__(self, heading: str, problems: Iterable[str]) -> None:
        """One message: ``heading``, then one line per problem."""
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{heading}\n{lines}")


def check(app: Flask) -> None:
    """Fill in derived defaults, normalise, then stop with every problem found.

    Outside debug and testing the secret key, SITE_URL, the mail settings,
    OUTBOX_KEY and a writable outbox folder outside the virtualenv are
    required. In debug and testing a missing secret key is replaced by a
    throwaway one, SITE_URL defaults to the dev server, OUTBOX_KEY to a key
    kept in the instance folder, and mail settings are left to the tests and
    the dev server. A value that is set but wrong is a problem in every mode.
    """
    config = app.config
    local = app.debug or app.testing
    if not config["OUTBOX_PATH"]:
        config["OUTBOX_PATH"] = str(Path(app.instance_path) / "outbox.sqlite3")
    if not config["OUTBOX_LEASE_SECONDS"]:
        config["OUTBOX_LEASE_SECONDS"] = 3 * float(config["MAIL_TIMEOUT"] or 10)
    if not config["RATELIMIT_STORAGE_URI"]:
        limits_file = Path(app.instance_path) / "ratelimits.sqlite3"
        config["RATELIMIT_STORAGE_URI"] = f"sqlite://{limits_file}"
    if local:
        # Sessions (and form tokens) then end with the process.
        config["SECRET_KEY"] = config["SECRET_KEY"] or secrets.token_hex(32)
        config["SITE_URL"] = config["SITE_URL"] or LOCAL_SITE_URL
        config["OUTBOX_KEY"] = config["OUTBOX_KEY"] or local_key(app.instance_path)
    problems = [
        f"{key} is not set: {why}"
        for key, why in REQUIRED.items()
        if not config.get(key) and not local
    ]
    problems += _site_url_problems(config)
    problems += _address_problems(config)
    problems += _outbox_key_problems(config)
    problems += _plaintext_relay_problems(config)
    problems += _install_problems(app)
    try:
        config["TRUSTED_PROXIES"] = trusted_proxies(config.get("TRUSTED_PROXIES"))
    except ValueError as error:
        problems.append(str(error))
    try:
        ZoneInfo(config.get("CLINIC_TIMEZONE") or "")
    except (ValueError, ZoneInfoNotFoundError):
        problems.append(
            f"CLINIC_TIMEZONE: {config.get('CLINIC_TIMEZONE')!r} is not a time zone;"
            " use a name such as America/Los_Angeles"
        )
    outbox_path = config["OUTBOX_PATH"]
    if not local and _inside_virtualenv(outbox_path):
        problems.append(
            f"OUTBOX_PATH: {outbox_path} is inside the virtual environment "
            f"{sys.prefix}, so rebuilding it would delete requests not yet sent; "
            "set FLASK_OUTBOX_PATH to a file outside it, such as "
            "/var/lib/clinic-site/outbox.sqlite3"
        )
    elif (outbox := outbox_problem(outbox_path, create=local)) and not local:
        problems.append(outbox)
    if problems:
        raise StartupError("The site cannot start:", problems)


def _site_url_problems(config) -> list[str]:
    """SITE_URL must be an http(s) address with a host; stored without a
    trailing slash so ``SITE_URL + path`` is always right."""
    value = config.get("SITE_URL")
    if not value:
        return []
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            f"SITE_URL: {value!r} is not a web address; use the site's public "
            "address, e.g. https://immunotherapy.example.org"
        ]
    if parts.query or parts.fragment:
        return [f"SITE_URL: {value!r} must not have a query or fragment"]
    trusted = config.get("TRUSTED_HOSTS")
    if trusted and not host_is_trusted(parts.netloc, trusted):
        return [f"SITE_URL: {parts.netloc!r} is not one of TRUSTED_HOSTS {trusted!r}"]
    config["SITE_URL"] = str(value).rstrip("/")
    return []


def _install_problems(app: Flask) -> list[str]:
    """A wheel built without its data serves empty pages: refuse to start."""
    problems = []
    for name in ESSENTIAL_TEMPLATES:
        try:
            app.jinja_loader.get_source(app.jinja_env, name)
        except TemplateNotFound:
            problems.append(f"template {name} is missing: the install is incomplete")
    folder = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    default = app.config["BABEL_DEFAULT_LOCALE"]
    for lang in LANGUAGES:
        catalog = folder / lang / "LC_MESSAGES" / "messages.mo"
        if lang != default and not catalog.is_file():
            problems.append(
                f"{catalog} is missing: compile the translations "
                "(pybabel compile -d translations, or `make setup`)"
            )
    static = manifest_problem(app)
    return problems + ([static] if static else [])


def trusted_proxies(value: object) -> int:
    """TRUSTED_PROXIES as a count (unset: none); ValueError, with a message for
    the operator, on anything else (True is no count)."""
    if value in (None, ""):
        return 0
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ValueError(
            "TRUSTED_PROXIES must be the number of proxies in front of the site "
            f"(0, 1, 2...), not {value!r}"
        )
    return int(text)


def _inside_virtualenv(path: str) -> bool:
    """Whether ``path`` lies in the running virtual environment: where an
    installed wheel's instance folder (the default outbox) would be."""
    if sys.prefix == sys.base_prefix:
        return False
    return Path(path).resolve().is_relative_to(Path(sys.prefix).resolve())


def outbox_problem(path: str, *, create: bool) -> str | None:
    """Say why the outbox's folder cannot be written, if so; ``create`` it
    when missing (debug and testing; elsewhere `flask outbox init` does)."""
    folder = Path(path).parent
    if not create and not os.path.lexists(folder):
        return None
    try:
        # 0700 from its first moment: the outbox holds personal data.
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A real write, because permission bits say nothing for root or a
        # read-only mount. SQLite also needs the folder for its journal.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return (
            f"OUTBOX_PATH: the folder {folder} cannot be written by this user "
            f"({error.strerror}); create it and give it to the site's user, or "
            "set FLASK_OUTBOX_PATH"
        )
    return None


def inbox_addresses(value: object) -> list[str]:
    """CLINIC_INBOX as a list: one address, or a JSON list of addresses.

    Raises ValueError naming the first address that is not valid.
    """
    if isinstance(value, str):
        # from_prefixed_env decodes a JSON list from FLASK_CLINIC_INBOX; a value
        # from elsewhere (test config, .flaskenv) may still be JSON text.
        value = json.loads(value) if value.lstrip().startswith("[") else [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"not an address or a list of addresses: {value!r}")
    return [_valid_address(address) for address in value]


def _valid_address(address: object) -> str:
    """The normalised address, or ValueError saying what is wrong with it."""
    if not isinstance(address, str):
        raise ValueError(f"not an address: {address!r}")
    try:
        # No DNS lookup: start-up must not depend on the network.
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"{address!r}: {error}") from None


def _address_problems(config) -> list[str]:
    """Check the addresses that are set and store them parsed: CLINIC_INBOX as
    a list of addresses, MAIL_DEFAULT_SENDER as one "Name <address>" string."""
    problems = []
    if config.get("CLINIC_INBOX"):
        try:
            config["CLINIC_INBOX"] = inbox_addresses(config["CLINIC_INBOX"])
        except ValueError as error:
            problems.append(f"CLINIC_INBOX: {error}")
    sender = config.get("MAIL_DEFAULT_SENDER")
    if sender:
        # Flask-Mail's conventions: "Name <address>" or ("Name", "address").
        if isinstance(sender, list | tuple):
            sender = formataddr(tuple(sender))
        address = parseaddr(str(sender))[1]
        try:
            _valid_address(address or str(sender))
            config["MAIL_DEFAULT_SENDER"] = str(sender)
        except ValueError as error:
            problems.append(f"MAIL_DEFAULT_SENDER: {error}")
    return problems


def local_key(instance_path: str) -> str:
    """The debug outbox's key, made once in the instance folder (0600)."""
    path = Path(instance_path) / LOCAL_KEY_FILE
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def outbox_keys(value: object) -> list[str]:
    """OUTBOX_KEY as a list: one key, or a JSON list of keys (first encrypts).

    Raises ValueError saying which key is wrong, never showing a key.
    """
    if isinstance(value, str):
        # from_prefixed_env decodes a JSON list; other sources may not.
        value = json.loads(value) if value.lstrip().startswith("[") else [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a key or a JSON list of keys")
    for number, key in enumerate(value, start=1):
        try:
            Fernet(key)
        except (TypeError, ValueError):
            which = "the key" if len(value) == 1 else f"key {number} of {len(value)}"
            raise ValueError(
                f"{which} is not a Fernet key (44 characters of URL-safe base64); "
                f"make one with {MAKE_KEY}"
            ) from None
    return [str(key) for key in value]


def _outbox_key_problems(config) -> list[str]:
    """Check OUTBOX_KEY if set, and store it as a list of keys."""
    if not config.get("OUTBOX_KEY"):
        return []
    try:
        config["OUTBOX_KEY"] = outbox_keys(config["OUTBOX_KEY"])
    except ValueError as error:
        return [f"OUTBOX_KEY: {error}"]
    return []


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine, judged without a DNS lookup."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plaintext_relay_problems(config) -> list[str]:
    """A relay on another machine without TLS would carry every request, and
    the relay password, readable across the network."""
    host = config.get("MAIL_SERVER")
    encrypted = config.get("MAIL_USE_TLS") or config.get("MAIL_USE_SSL")
    if not host or encrypted or config.get("MAIL_ALLOW_PLAINTEXT"):
        return []
    if is_loopback(str(host)):
        return []
    return [
        f"MAIL_SERVER: {host} is not on this machine and MAIL_USE_TLS and "
        "MAIL_USE_SSL are off, so requests would cross the network unencrypted: "
        "set FLASK_MAIL_USE_TLS=true (STARTTLS, port 587) or FLASK_MAIL_USE_SSL=true "
        "(port 465); only if the network to it is private, FLASK_MAIL_ALLOW_PLAINTEXT"
        "=true"
    ]
