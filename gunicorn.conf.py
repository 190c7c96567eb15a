"""Read by gunicorn from the working directory: the settings the package ships
(app/gunicorn_conf.py), so ``gunicorn`` alone starts the site from a checkout."""

from app.gunicorn_conf import *  # noqa: F403
