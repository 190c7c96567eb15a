"""The WSGI entry point: ``gunicorn wsgi:app`` (see gunicorn.conf.py)."""

import gc

from app import create_app

app = create_app()
# gunicorn forks its workers from this process (preload_app). Frozen objects
# are left alone by the garbage collector, so the workers keep sharing their
# memory pages instead of copying them on every collection.
gc.freeze()
