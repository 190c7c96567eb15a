"""Gunicorn settings for one small server behind nginx.

Gunicorn reads this file from the working directory, so ``gunicorn`` alone
starts the site; a command-line flag overrides any value here (the tests use
``--bind`` and ``--workers``). See docs/deploy.md.
"""

from __future__ import annotations

import os


def _cores() -> int:
    """CPUs this process may run on (respects taskset and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


wsgi_app = "wsgi:app"
bind = "127.0.0.1:8000"

# Sync workers: pages are served from memory and the form only writes a SQLite
# row (its email is tried on a thread of its own, and retried by `flask outbox
# deliver`), so a request is CPU work of a few milliseconds and never waits on
# the network. The classic
# 2 x cores + 1 keeps both cores busy while one worker is between requests:
# 5 on the 2-core server. The cap keeps memory bounded on a big shared host,
# where nginx, not more workers, absorbs slow clients.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * _cores() + 1, 9)))

# Load the app once in the master before forking: a configuration problem then
# stops gunicorn with the app's one-line message instead of a worker that fails,
# is restarted and fails again. It also shares the parsed content between
# workers. Anything that holds a file or socket (SQLite, SMTP) must therefore be
# opened per request or per command, never at import or in create_app.
preload_app = True

# No request should take more than a fraction of a second; a worker silent for
# 30 s is stuck and is replaced. On stop, requests in flight get 20 s to finish
# (less than systemd's default 90 s TimeoutStopSec).
timeout = 30
graceful_timeout = 20
# nginx talks to gunicorn over HTTP/1.0 without keep-alive; sync workers ignore
# this anyway. Kept short for a client that reaches gunicorn directly.
keepalive = 2

# Recycle each worker after about ten thousand requests (days of this site's
# traffic), so a slow leak in any library cannot grow for years; the jitter
# keeps workers from restarting together. Not much lower: a new worker starts
# with empty page caches, and under a burst of traffic frequent restarts show
# up as slow requests.
max_requests = 10000
max_requests_jitter = 1000

# The client address and scheme come from the app's TRUSTED_PROXIES (ProxyFix),
# one setting for the rate limit, the logs and HTTPS detection. Gunicorn's own
# handling of X-Forwarded-Proto would otherwise trust any local client (and
# every client on a Unix socket), so it is switched off here.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# The app logs one line per request itself (app/observability.py), with no
# query string and no client address. gunicorn's access log stays off: it
# writes what a client sent without escaping control characters, so a crafted
# URL could forge a line.
accesslog = None
errorlog = "-"
loglevel = "info"

# Gunicorn 25+ opens a control socket in $HOME by default; systemd restarts and
# signals are enough here, and two instances (tests, a second site) would
# collide on the one path.
control_socket_disable = True
