# Read by the flask command (python-dotenv) when run from the repository root;
# the real environment wins over these. Settings and secrets do not go here.
FLASK_APP=app
# `flask --debug run` restarts when a content file changes, is added or goes
# (Werkzeug's watchdog reloader; watchdog is a dev dependency), so new pages
# and slugs get their URLs with nothing to list by hand.
FLASK_RUN_EXTRA_FILES=content/**
