"""Configuration: the defaults, and the start-up check, which runs the
``Settings`` model over the keys Flask read (with the install, the content and
the outbox) and refuses to start with one message listing every problem.
Parsed values (the inbox list, the sender) are stored back in one shape."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from email.utils import formataddr
from pathlib import Path
from typing import Annotated
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet
from flask import Flask
from jinja2 import TemplateNotFound
from limits import parse_many
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import EmailStr
from pydantic import Field
from pydantic import ValidationError
from pydantic import ValidationInfo
from pydantic import field_validator
from pydantic import validate_email
from pydantic_core import PydanticCustomError
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

# Flask's and the extensions' own keys as the site sets them; the site's own
# keys, with their defaults, are the fields of Settings below.
FLASK_DEFAULTS: dict[str, Any] = {
    "BABEL_DEFAULT_LOCALE": "en",
    # Flask-Babel resolves relative paths against app/, so be explicit.
    "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS_DIR),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "WTF_CSRF_TIME_LIMIT": 4 * 3600,
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
}

# Debug without a relay: the SMTP sink of `make run` (tools/devserver.py), so
# a `flask --debug` command beside it works as it does. Testing sets its own.
DEBUG_DEFAULTS = {
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_PORT": 8025,
    # Real-looking addresses: the site refuses ones it could not mail.
    "MAIL_DEFAULT_SENDER": "Website <website@clinic.example>",
    "CLINIC_INBOX": "appointments@clinic.example",
}

MAKE_KEY = (
    "python3 -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)
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
    """Stops the process with a message instead of a traceback: ``flask``,
    ``gunicorn`` and ``python`` print just the message and exit with 1."""

    def __init__(self, heading: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{heading}\n{lines}")


T = TypeVar("T")


def _one_or_json_list(value: object) -> object:
    """One value as a list; from_prefixed_env decodes a JSON list, but a value
    from elsewhere (test config, .flaskenv) may still be JSON text."""
    if not isinstance(value, str):
        return value
    if not value.lstrip().startswith("["):
        return [value]
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{value!r} is not a JSON list") from None


# "A value or a JSON list of them" (CLINIC_INBOX, OUTBOX_KEY, TRUSTED_HOSTS).
OneOrList = Annotated[list[T], BeforeValidator(_one_or_json_list), Field(min_length=1)]


def _sender(value: object) -> object:
    """Flask-Mail's conventions, "Name <address>" or ("Name", "address"), as
    one "Name <address>" string, its address checked (no DNS lookup)."""
    if isinstance(value, list | tuple):
        value = formataddr(tuple(value))
    if isinstance(value, str):
        try:
            validate_email(value)
        except PydanticCustomError as error:
            # Named as it will be sent, not as the list it was given as.
            raise ValueError(f"{value!r}: {error.message()}") from None
    return value


def _fernet_keys(keys: list[str]) -> list[str]:
    """Every key a Fernet key; the message says which, never shows one."""
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (TypeError, ValueError):
            which = "the key" if len(keys) == 1 else f"key {number} of {len(keys)}"
            raise ValueError(
                f"{which} is not a Fernet key (44 characters of URL-safe base64); "
                f"make one with {MAKE_KEY}"
            ) from None
    return keys


def _explained(test: Callable[[Any], object], problem: str = "{1}") -> AfterValidator:
    """A value ``test`` takes, else ``problem`` ({0!r}: the value, {1}: the
    error ``test`` raised)."""

    def validate(value: Any) -> Any:
        try:
            test(value)
        except (TypeError, ValueError, KeyError, ConfigurationError) as error:
            raise ValueError(problem.format(value, error)) from None
        return value

    return AfterValidator(validate)


def _count(value: object) -> int:
    """A whole number of proxies: 0, 1, 2... (unset: none; True is no count)."""
    text = "0" if value in (None, "") else str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ValueError(
            f"{value!r} is not a number of proxies; set it to how many proxies "
            "are in front of the site (0, 1, 2...)"
        )
    return int(text)


RateLimit = Annotated[
    str,
    _explained(
        parse_many,
        "{0!r} is not a rate limit; write it like '5 per minute;30 per hour'",
    ),
]
Seconds = Annotated[float, Field(ge=0)]
# A file or folder, given as text or as a Path.
PathText = Annotated[
    str, BeforeValidator(lambda v: os.fspath(v) if isinstance(v, os.PathLike) else v)
]


class Settings(BaseModel):
    """What each of the site's own keys may hold (other keys are ignored).
    Fields are validated in this order: one checked against another comes
    after it."""

    SECRET_KEY: str | bytes | None = None
    CONTENT_DIR: PathText = str(CONTENT_DIR)
    TRUSTED_HOSTS: OneOrList[str] | None = None  # Flask's own
    SITE_URL: str | None = None
    # With 0, X-Forwarded-* headers are ignored: a client cannot forge its
    # address or scheme. With N, ProxyFix trusts the Nth value from the right.
    TRUSTED_PROXIES: Annotated[int, BeforeValidator(_count)] = 0
    # The SMTP relay, as Flask-Mail names it.
    MAIL_USE_TLS: bool = False
    MAIL_USE_SSL: bool = False
    MAIL_ALLOW_PLAINTEXT: bool = False
    MAIL_SERVER: str | None = None
    MAIL_PORT: Annotated[int, Field(gt=0, lt=65536)] | None = None
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_TIMEOUT: Annotated[float, Field(gt=0)] = 10
    MAIL_CA_FILE: PathText | None = None
    CLINIC_INBOX: OneOrList[EmailStr] | None = None
    MAIL_DEFAULT_SENDER: Annotated[str, BeforeValidator(_sender)] | None = None
    CLINIC_TIMEZONE: Annotated[
        str,
        _explained(
            ZoneInfo, "{0!r} is not a time zone; use a name such as America/Los_Angeles"
        ),
    ] = "America/Los_Angeles"
    SERVICE_WORKER_ENABLED: bool = True
    OUTBOX_PATH: PathText | None = None
    OUTBOX_KEY: Annotated[OneOrList[str], AfterValidator(_fernet_keys)] | None = None
    OUTBOX_LEASE_SECONDS: Annotated[float, Field(gt=0)] | None = None
    OUTBOX_ALERT_SECONDS: Seconds = 900
    OUTBOX_RETRY_SECONDS: Seconds = 60
    OUTBOX_MAX_BACKOFF_SECONDS: Seconds = 3600
    OUTBOX_FAILING_AFTER: Annotated[int, Field(gt=0)] = 5
    RATELIMIT_ENABLED: bool = True
    # sqlite:// is registered by appointments/limit_store.py, imported before
    # the check.
    RATELIMIT_STORAGE_URI: Annotated[str, _explained(storage_from_string)] | None = None
    APPOINTMENT_RATE_LIMIT: RateLimit = "5 per minute;30 per hour"
    APPOINTMENT_FLOOD_LIMIT: RateLimit = "20 per minute;100 per hour"
    APPOINTMENT_TOTAL_LIMIT: RateLimit = "200 per hour"

    @field_validator("SITE_URL")
    @classmethod
    def _site_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An http(s) address with a host, one of TRUSTED_HOSTS if set;
        stored without a trailing slash so ``SITE_URL + path`` is right."""
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{value!r} is not a web address; use the site's public "
                "address, e.g. https://immunotherapy.example.org"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} must not have a query or fragment")
        trusted = info.data.get("TRUSTED_HOSTS")
        if trusted and not host_is_trusted(parts.netloc, trusted):
            raise ValueError(
                f"{parts.netloc!r} is not one of TRUSTED_HOSTS {trusted!r}"
            )
        return value.rstrip("/")

    @field_validator("MAIL_SERVER")
    @classmethod
    def _encrypted_relay(cls, host: str | None, info: ValidationInfo) -> str | None:
        """A relay on another machine without TLS would carry every request,
        and the relay password, readable across the network."""
        allowed = ("MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_ALLOW_PLAINTEXT")
        if not host or is_loopback(host) or any(info.data.get(k) for k in allowed):
            return host
        raise ValueError(
            f"{host} is not on this machine and MAIL_USE_TLS and MAIL_USE_SSL "
            "are off, so requests would cross the network unencrypted: set "
            "FLASK_MAIL_USE_TLS=true (STARTTLS, port 587) or FLASK_MAIL_USE_SSL="
            "true (port 465); only if the network to it is private, "
            "FLASK_MAIL_ALLOW_PLAINTEXT=true"
        )

    @field_validator("OUTBOX_PATH")
    @classmethod
    def _outbox_folder(cls, path: str | None, info: ValidationInfo) -> str | None:
        """Outside debug and testing: not in the virtualenv (a wheel's
        instance folder), which a rebuild deletes with every unsent request;
        in a folder this user can write, once there (`flask outbox init`)."""
        if not path or info.context["local"]:
            return path
        folder = Path(path).parent
        if sys.prefix != sys.base_prefix and folder.resolve().is_relative_to(
            Path(sys.prefix).resolve()
        ):
            raise ValueError(
                f"{path} is inside the virtual environment {sys.prefix}, so "
                "rebuilding it would delete requests not yet sent; set "
                "FLASK_OUTBOX_PATH to a file outside it, such as "
                "/var/lib/clinic-site/outbox.sqlite3"
            )
        try:
            # A real write: permission bits say nothing for root or a
            # read-only mount. SQLite needs the folder for its journal too.
            if os.path.lexists(folder):
                tempfile.TemporaryFile(dir=folder).close()
        except OSError as error:
            raise ValueError(
                f"the folder {folder} cannot be written by this user "
                f"({error.strerror}); create it and give it to the site's user, "
                "or set FLASK_OUTBOX_PATH"
            ) from None
        return path


DEFAULTS = {
    **FLASK_DEFAULTS,
    **{key: field.default for key, field in Settings.model_fields.items()},
}


def check(
    app: Flask,
    *,
    content: Callable[[Flask], list[str]],
    outbox: Callable[[Flask], list[str]],
) -> None:
    """Check every setting, the install, the content and the outbox; raise
    StartupError listing every problem. REQUIRED keys may be unset only in
    debug and testing (then with local defaults). ``content`` and ``outbox``
    load into ``app.extensions`` and return their problems; the outbox opens
    only with sound settings."""
    config, local = app.config, app.debug or app.testing
    instance = Path(app.instance_path)
    config["OUTBOX_PATH"] = config["OUTBOX_PATH"] or str(instance / "outbox.sqlite3")
    if not config["RATELIMIT_STORAGE_URI"]:
        config["RATELIMIT_STORAGE_URI"] = f"sqlite://{instance / 'ratelimits.sqlite3'}"
    if app.debug and not config["MAIL_SERVER"]:
        config.update({key: config[key] or v for key, v in DEBUG_DEFAULTS.items()})
    if local:
        # Sessions (and form tokens) then end with the process.
        config["SECRET_KEY"] = config["SECRET_KEY"] or secrets.token_hex(32)
        config["SITE_URL"] = config["SITE_URL"] or LOCAL_SITE_URL
    missing = [] if local else [key for key in REQUIRED if not config.get(key)]
    problems = [f"{key} is not set: {REQUIRED[key]}" for key in missing]
    try:
        parsed = Settings.model_validate(dict(config), context={"local": local})
        config.update(parsed.model_dump())
        # A sender renews its lease every third of it, so a slow relay never
        # lets it run out under a live sender.
        lease = parsed.OUTBOX_LEASE_SECONDS or 3 * parsed.MAIL_TIMEOUT
        config["OUTBOX_LEASE_SECONDS"] = lease
    except ValidationError as error:
        found = [_problem(detail) for detail in error.errors()]
        problems += [line for line in found if line.split(":")[0] not in missing]
    settings_sound = not problems
    problems += _install_problems(app) + content(app)
    if settings_sound:
        problems += outbox(app)
    if problems:
        raise StartupError("The site cannot start:", problems)


def _problem(error: dict[str, Any]) -> str:
    """One pydantic error as a line naming the key: our validators' own
    words, else pydantic's with the value, unless the value is a secret."""
    key, ctx, words = str(error["loc"][0]), error.get("ctx", {}), error["msg"]
    if "error" in ctx:
        return f"{key}: {ctx['error']}"
    value = "the value" if key.endswith(("_KEY", "PASSWORD")) else repr(error["input"])
    if words.lower().startswith(("input ", "value ")):
        words = words.split(" ", 1)[1]
    return f"{key}: {value} {words}"


def _install_problems(app: Flask) -> list[str]:
    """A wheel built without its data serves empty pages: refuse to start."""
    problems = []
    for name in ESSENTIAL_TEMPLATES:
        try:
            app.jinja_loader.get_source(app.jinja_env, name)
        except TemplateNotFound:
            problems.append(f"template {name} is missing: the install is incomplete")
    folder = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    for lang in LANGUAGES:
        catalog = folder / lang / "LC_MESSAGES" / "messages.mo"
        if lang != app.config["BABEL_DEFAULT_LOCALE"] and not catalog.is_file():
            problems.append(
                f"{catalog} is missing: compile the translations "
                "(pybabel compile -d translations, or `make setup`)"
            )
    static = manifest_problem(app)
    return problems + ([static] if static else [])


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine, judged without a DNS lookup."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
