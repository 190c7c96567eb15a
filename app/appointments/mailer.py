"""Send the clinic's email over SMTP, and say in an operator's words why a
send failed."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any


class MailConfigError(Exception):
    """The mail settings cannot work; the message names the setting and the fix."""


class MailError(Exception):
    """A send failed; the message says why in an operator's words, with no
    secret and nothing the relay echoed back (it can quote addresses).
    ``code`` is the relay's SMTP code, when it gave one."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def setting(config: Mapping[str, Any], key: str) -> Any:
    """A mail setting app/config.py checked and normalised at start-up; unset
    only in debug and testing, where the message says how to set it."""
    if not config.get(key):
        raise MailConfigError(f"{key} is not set: set FLASK_{key}")
    return config[key]


def _port(config: Mapping[str, Any]) -> int:
    """MAIL_PORT, else the port of the protocol: 465 with MAIL_USE_SSL, else 25."""
    return int(config.get("MAIL_PORT") or (465 if config.get("MAIL_USE_SSL") else 25))


def _sender_address(config: Mapping[str, Any]) -> str:
    """The bare address of MAIL_DEFAULT_SENDER ("Name <address>"), "" if unset."""
    return parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1]


def sender_domain(config: Mapping[str, Any]) -> str:
    """The domain for Message-IDs: the sender's, so they look like ours."""
    return _sender_address(config).rpartition("@")[2] or "localhost"


def send(
    message: EmailMessage, config: Mapping[str, Any], *, recipients: list[str], guard
) -> dict[str, tuple[int, bytes]]:
    """Hand ``message`` to the SMTP relay for ``recipients``; return the
    inboxes the relay refused, with its answers, or raise MailError (or
    MailConfigError) saying what is wrong when no inbox accepted it.

    ``guard`` (delivery.LeaseKeeper) can stop the send: ``watch(smtp)`` once
    connected (it may cut the connection), ``before_sending()`` raises MailError.
    TLS always verifies the server's certificate (system CAs or MAIL_CA_FILE).
    """
    host, port = setting(config, "MAIL_SERVER"), _port(config)
    setting(config, "MAIL_DEFAULT_SENDER")
    timeout = float(config.get("MAIL_TIMEOUT") or 10)
    use_ssl = bool(config.get("MAIL_USE_SSL"))
    context = None
    if use_ssl or config.get("MAIL_USE_TLS"):
        try:
            context = ssl.create_default_context(cafile=config.get("MAIL_CA_FILE"))
        except OSError as error:
            raise MailConfigError(
                f"MAIL_CA_FILE {config.get('MAIL_CA_FILE')} cannot be read "
                f"({error.strerror or error})"
            ) from None
    smtp = None
    try:
        if use_ssl:
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        guard.watch(smtp)
        if context is not None and not use_ssl:
            smtp.starttls(context=context)
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        guard.before_sending()
        # Envelope recipients are the inbox only: Reply-To never gets mail.
        # smtplib returns the inboxes refused while others took the message.
        # It raises when no message was sent at all: every inbox refused, or
        # the relay said 421 mid-way and hung up. Then no inbox has it, so
        # every inbox counts as refused, the ones it named with their codes.
        try:
            refused = smtp.send_message(
                message, from_addr=_sender_address(config), to_addrs=recipients
            )
        except smtplib.SMTPRecipientsRefused as error:
            not_sent = (421, b"not sent: the relay hung up before the message")
            refused = {
                inbox: error.recipients.get(inbox, not_sent) for inbox in recipients
            }
        # Accepted (or refused for each inbox): QUIT's own errors must never
        # turn this into a retry (a duplicate). After a failure there is no
        # QUIT: a stalled relay would only keep the sender waiting longer.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    except MailError:
        raise
    except Exception as error:
        raise MailError(
            explain(error, host, port, timeout),
            code=getattr(error, "smtp_code", None),
        ) from None
    finally:
        if smtp is not None:
            smtp.close()
    return refused


def _requires_tls(code: int | None, text: bytes | str | None) -> bool:
    """The relay asks for STARTTLS: its words say so (some answer 550), or a
    530 that is not about a login (530 also means "authentication required")."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    words = (text or "").lower()
    return "tls" in words or (code == 530 and "auth" not in words)


_TLS_ADVICE = (
    "the relay {relay} requires TLS (SMTP {code}): turn on MAIL_USE_TLS "
    "(FLASK_MAIL_USE_TLS=true, STARTTLS, usually port 587)"
)


def _kind(code: int) -> str:
    return "temporarily" if 400 <= code < 500 else "permanently"


def refused_reason(
    inbox: str, code: int, text: bytes, config: Mapping[str, Any]
) -> str:
    """Why the relay refused one clinic inbox, for the log and the operator
    (the relay's own words are read, never repeated: they can echo data)."""
    relay = f"{config.get('MAIL_SERVER')}:{_port(config)}"
    if _requires_tls(code, text):
        return _TLS_ADVICE.format(relay=relay, code=code)
    return (
        f"the relay {relay} {_kind(code)} refused the inbox {inbox} (SMTP {code}): "
        "check CLINIC_INBOX"
    )


# What went wrong, by the first class the error is an instance of.
_EXPLANATIONS = {
    smtplib.SMTPAuthenticationError: "the relay {relay} refused the login (SMTP "
    "{code}): check MAIL_USERNAME and MAIL_PASSWORD",
    smtplib.SMTPNotSupportedError: "the relay {relay} does not offer what the "
    "settings ask for (STARTTLS or login): check MAIL_USE_TLS, MAIL_USE_SSL and "
    "MAIL_PORT",
    ssl.SSLCertVerificationError: "the certificate of {relay} is not trusted "
    "({error.verify_message}): fix the relay's certificate, or set MAIL_CA_FILE "
    "to its CA",
    ssl.SSLError: "TLS with {relay} failed ({reason}): check MAIL_USE_TLS "
    "(STARTTLS, port 587) or MAIL_USE_SSL (port 465)",
    smtplib.SMTPSenderRefused: "the relay {relay} refused the sender (SMTP {code}): "
    "check MAIL_DEFAULT_SENDER",
    smtplib.SMTPResponseException: "the relay {relay} {kind} refused the message "
    "(SMTP {code})",
    smtplib.SMTPServerDisconnected: "the relay {relay} closed the connection",
    TimeoutError: "the relay {relay} did not answer within {timeout:.0f} s "
    "(MAIL_TIMEOUT); is it up, and is the port open?",
    ConnectionRefusedError: "the relay {relay} refused the connection: is it up, "
    "on this port?",
    socket.gaierror: "the relay's name {host} (MAIL_SERVER) cannot be resolved",
    OSError: "cannot reach the relay {relay} ({reason})",
    Exception: "sending through {relay} failed ({reason})",
}


def explain(error: BaseException, host: str, port: int, timeout: float) -> str:
    """What went wrong talking to the relay, for the log and the operator."""
    relay = f"{host}:{port}"
    code = getattr(error, "smtp_code", None)
    if code is not None and _requires_tls(code, getattr(error, "smtp_error", None)):
        return _TLS_ADVICE.format(relay=relay, code=code)
    if code == 530:
        return (
            f"the relay {relay} requires a login (SMTP 530): set MAIL_USERNAME "
            "and MAIL_PASSWORD"
        )
    ssl_error = isinstance(error, ssl.SSLError)
    reason = getattr(error, "reason" if ssl_error else "strerror", None)
    template = next(
        text for kind, text in _EXPLANATIONS.items() if isinstance(error, kind)
    )
    return template.format(
        relay=relay,
        host=host,
        code=code,
        kind=_kind(code or 0),
        timeout=timeout,
        error=error,
        reason=reason or type(error).__name__,
    )
