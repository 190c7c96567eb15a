"""Gunicorn settings for one small server behind nginx, shipped in the wheel:
``gunicorn -c python:app.gunicorn_conf`` from any folder, a flag overriding
any value here (docs/deploy.md)."""

import os

# The app factory in the package itself: wsgi.py is not in the wheel.
wsgi_app = "app:create_app()"
bind = "127.0.0.1:8000"
# Should someone bind a Unix socket instead (--bind unix:...), 0660, not the
# world-writable socket gunicorn's default umask (0) would make.
umask = 0o117

# Sync workers: a request is a few milliseconds of CPU (the form's email is sent
# on a thread of its own and retried by `flask outbox deliver`), so 2 x cores + 1
# keeps the cores busy; capped so a big shared host does not run dozens.
workers = int(
    os.environ.get("WEB_CONCURRENCY", min(2 * len(os.sched_getaffinity(0)) + 1, 9))
)

# Load the app once before forking, so a configuration problem stops gunicorn
# with the app's one message instead of workers failing in a loop. Anything that
# holds a file or socket (SQLite, SMTP) is therefore opened per request.
preload_app = True

# A worker silent for 30 s is stuck and replaced; on stop, requests in flight
# get 20 s (less than systemd's default 90 s TimeoutStopSec).
timeout = 30
graceful_timeout = 20

# Recycle workers now and then, so a slow leak in any library cannot grow for
# years; the jitter keeps them from restarting together.
max_requests = 10000
max_requests_jitter = 1000

# The client address and scheme come from the app's TRUSTED_PROXIES (ProxyFix).
# Gunicorn's own X-Forwarded-Proto handling would trust any local client, so
# it is off.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# The app logs one line per request itself (app/observability.py), with no
# query string and no client address. gunicorn's access log stays off: it
# writes what a client sent without escaping control characters, so a crafted
# URL could forge a line.
accesslog = None
errorlog = "-"
loglevel = "info"

# Gunicorn 25+ opens a control socket in $HOME by default; systemd is enough,
# and two instances (tests, a second site) would collide on the one path.
control_socket_disable = True
