"""Start-up checks: the site refuses to start with a configuration it cannot run.

Every problem is collected first and reported at once, in one message, so an
operator fixes the environment file in one go instead of one restart per key.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterable
from email.utils import parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import Flask

from .proxy import trusted_proxies

# What each required key is for and how to set it, in the operator's words.
REQUIRED = {
    "SECRET_KEY": "signs sessions and form tokens: set FLASK_SECRET_KEY to a long "
    "random string (python3 -c 'import secrets; print(secrets.token_hex(32))')",
    "MAIL_SERVER": "the SMTP relay that sends appointment requests: set "
    "FLASK_MAIL_SERVER",
    "MAIL_DEFAULT_SENDER": "the From address of appointment emails: set "
    "FLASK_MAIL_DEFAULT_SENDER",
    "CLINIC_INBOX": "where appointment requests are sent: set FLASK_CLINIC_INBOX "
    "to an address or a JSON list of addresses",
}


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


def check_config(app: Flask) -> None:
    """Fill in derived defaults, then stop with every problem found.

    Outside debug and testing the mail settings, the secret key and a writable
    outbox are required; in debug and testing a missing key is replaced by a
    throwaway one, and mail settings are left to the tests and the dev server.
    """
    config = app.config
    config.setdefault("OUTBOX_PATH", str(Path(app.instance_path) / "outbox.sqlite3"))
    problems = []
    try:
        trusted_proxies(config.get("TRUSTED_PROXIES"))
    except ValueError as error:
        problems.append(str(error))
    try:
        ZoneInfo(config.get("CLINIC_TIMEZONE") or "")
    except (ValueError, ZoneInfoNotFoundError):
        problems.append(
            f"CLINIC_TIMEZONE: {config.get('CLINIC_TIMEZONE')!r} is not a time zone;"
            " use a name such as America/Los_Angeles"
        )
    outbox = outbox_problem(config["OUTBOX_PATH"])
    if app.debug or app.testing:
        if not config.get("SECRET_KEY"):
            # Sessions (and form tokens) then end with the process.
            config["SECRET_KEY"] = secrets.token_hex(32)
    else:
        problems += [
            f"{key} is not set: {why}"
            for key, why in REQUIRED.items()
            if not config.get(key)
        ]
        problems += _address_problems(config)
        if outbox:
            problems.append(outbox)
    if problems:
        raise StartupError("The site cannot start:", problems)


def outbox_problem(path: str) -> str | None:
    """Create the outbox's folder if missing; say why it cannot be written, if so."""
    folder = Path(path).parent
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
    if not isinstance(value, list) or not value:
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
    """Problems with the addresses that are set (missing ones are reported apart)."""
    problems = []
    if config.get("CLINIC_INBOX"):
        try:
            inbox_addresses(config["CLINIC_INBOX"])
        except ValueError as error:
            problems.append(f"CLINIC_INBOX: {error}")
    sender = config.get("MAIL_DEFAULT_SENDER")
    if sender:
        # Flask-Mail's conventions: "Name <address>" or ("Name", "address").
        address = sender[-1] if isinstance(sender, list | tuple) else sender
        try:
            _valid_address(parseaddr(str(address))[1] or str(address))
        except ValueError as error:
            problems.append(f"MAIL_DEFAULT_SENDER: {error}")
    return problems
