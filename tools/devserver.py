"""``make run``: the Flask dev server plus a local SMTP sink that prints each email.

The sink is a real SMTP server (aiosmtpd), so the developer sees exactly the
message the clinic would receive, decoded for reading.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
import sys
from email import message_from_bytes
from email import policy

from aiosmtpd.controller import Controller
from flask.cli import load_dotenv

from app.config import DEBUG_DEFAULTS


class PrintingHandler:
    """Accepts every message and prints its envelope, headers and text part."""

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        lines = ["", "=" * 72, f"SMTP sink: message for {', '.join(envelope.rcpt_tos)}"]
        for name in ("From", "To", "Reply-To", "Subject", "Message-ID"):
            if message[name]:
                lines.append(f"{name}: {message[name]}")
        body = message.get_body(preferencelist=("plain",))
        lines += ["", body.get_content() if body else "(no text part)", "=" * 72]
        print("\n".join(lines), flush=True)
        return "250 Message accepted for delivery"


def dev_environment(smtp_port: int) -> dict[str, str]:
    """The settings that send to a sink on ``smtp_port``, as FLASK_* variables
    (``make preview`` runs outside debug, so it needs them spelled out): debug's
    own defaults, the same a ``flask --debug`` command gets (app/config.py)."""
    env = {f"FLASK_{key}": str(value) for key, value in DEBUG_DEFAULTS.items()}
    return {"FLASK_APP": "app", **env, "FLASK_MAIL_PORT": str(smtp_port)}


def site_url(host: str, port: int) -> str:
    """The dev server's own address, for SITE_URL: the sitemap and canonical
    links then name the port it serves on."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # every interface: this machine's is one of them
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def require_free_port(host: str, port: int, what: str, variable: str) -> None:
    """Stop at once, in one line, when ``port`` is taken: rather than a
    traceback, or a banner for a server that is someone else's."""
    with socket.socket() as probe:
        # As the servers bind: a port left in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise SystemExit(
                f"Port {port} ({what}) is in use: set {variable} to another "
                f"port, e.g. {variable}={port + 1}"
            ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smtp-port", type=int, default=8025)
    args = parser.parse_args()
    # What `flask run` reads, so the check sees the port it will use.
    load_dotenv()
    host = os.environ.get("FLASK_RUN_HOST", "127.0.0.1")
    port = int(os.environ.get("FLASK_RUN_PORT", "5000"))
    require_free_port("127.0.0.1", args.smtp_port, "the SMTP sink", "DEV_SMTP_PORT")
    require_free_port(host, port, "the Flask dev server", "FLASK_RUN_PORT")

    sink = Controller(PrintingHandler(), hostname="127.0.0.1", port=args.smtp_port)
    sink.start()
    env = dict(os.environ)
    env.setdefault("FLASK_SITE_URL", site_url(host, port))
    for key, value in dev_environment(args.smtp_port).items():
        env.setdefault(key, value)
    print(
        f"SMTP sink on 127.0.0.1:{args.smtp_port}: emails the site sends appear here."
    )
    try:
        subprocess.run([sys.executable, "-m", "flask", "run", "--debug"], env=env)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
