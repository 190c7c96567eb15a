"""``flask freeze``: the site's documents as static files, for nginx or a CDN.

Frozen-Flask requests each content page (both languages), the sitemap,
robots.txt and every static file from the app, through its public API, and
writes the responses to ``build/``. Pages keep extension-less names
(``build/en/immunotherapy``), served as text/html. The not-found pages for the
web server's ``error_page`` are rendered by the app's own error handler, one
per language; nginx's other error pages come from app/static_errors.py.
The form, its POST, the redirects and the health checks stay with the app.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext
from flask_frozen import Freezer
from flask_frozen import MissingURLGeneratorWarning
from werkzeug.exceptions import default_exceptions

from . import static_errors
from .content import LANGUAGES
from .i18n import DEFAULT_LANGUAGE

DEFAULT_DESTINATION = Path("build")


def error_page_urls(code: int) -> tuple[str, ...]:
    """Where the page for ``code`` goes: /404.html for the default language,
    /es/404.html for the others, for the web server's ``error_page``."""
    return tuple(
        f"/{code}.html" if lang == DEFAULT_LANGUAGE else f"/{lang}/{code}.html"
        for lang in LANGUAGES
    )


def site_freezer(app: Flask) -> Freezer:
    """Frozen-Flask, given the site's URLs rather than every url_for call
    (which would include the form linked from every page)."""
    freezer = Freezer(app, with_no_argument_rules=False, log_url_for=False)

    @freezer.register_generator
    def documents():
        """Every content page in every language, the sitemap, robots.txt and
        nginx's own error pages."""
        for page in current_app.extensions["content"].pages.values():
            for lang in page.slugs:
                yield "pages.page", {"page_id": page.id, "lang_code": lang}
        if current_app.extensions["content"].wallet_card is not None:
            for lang in LANGUAGES:
                yield "wallet_card.card", {"lang_code": lang}
        yield "pages.sitemap", {}
        yield "pages.robots", {}
        # nginx's own error pages, never linked (app/static_errors.py).
        for code in static_errors.MESSAGES:
            yield "static_errors.page", {"code": code}

    return freezer


def freeze(app: Flask, destination: Path) -> list[str]:
    """Write the site's static files into ``destination``; return their URLs."""
    destination = Path(destination).resolve()
    # Frozen-Flask deletes every file of the folder it did not write: never
    # let a mistyped --destination empty a folder that is not a build.
    if any(destination.glob("*")) and not (destination / "sitemap.xml").is_file():
        raise click.ClickException(
            f"{destination} is not empty and holds no earlier build; "
            "choose an empty or new folder"
        )
    app.config.update(
        FREEZER_DESTINATION=str(destination),
        # The one public address: frozen pages are what the app serves there.
        FREEZER_BASE_URL=app.config["SITE_URL"],
        # Pages have no extension (/en/immunotherapy); they are HTML.
        FREEZER_DEFAULT_MIMETYPE="text/html",
        # Flask-Static-Digest's manifest is for the app, not for visitors.
        FREEZER_STATIC_IGNORE=["cache_manifest.json"],
        # Frozen-Flask builds URLs in a request context for "localhost"; every
        # request here is our own, so the visitors' Host check has no job.
        TRUSTED_HOSTS=None,
    )
    with warnings.catch_warnings():
        # It names every endpoint with nothing frozen, and the form, redirects
        # and health checks are meant to stay with the app. What must be in the
        # build is checked by tests/test_freeze.py against the sitemap.
        warnings.simplefilter("ignore", MissingURLGeneratorWarning)
        urls = sorted(site_freezer(app).freeze())
    for url in error_page_urls(404):
        target = destination / url.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_error_page(app, 404, url))
        urls.append(url)
    return urls


def render_error_page(app: Flask, code: int, url: str) -> bytes:
    """The body the app answers with for ``code`` at ``url``, the way a live
    request there would get it: in a fresh context (inside the command's app
    context requests would share one ``g``, where Flask-Babel keeps the first
    page's language), in the language of the URL's prefix."""
    if code not in default_exceptions:
        raise click.ClickException(f"{code} is not an HTTP error code")
    with (
        app.app_context(),
        app.test_request_context(url, base_url=app.config["SITE_URL"]),
    ):
        error = default_exceptions[code]()
        response = app.make_response(app.handle_http_exception(error))
        if response.status_code != code:
            raise click.ClickException(f"{url}: answered {response.status_code}")
        return response.get_data()


@click.command("freeze")
@click.option(
    "--destination",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DESTINATION,
    show_default=True,
    help="Folder to write; Frozen-Flask owns it and removes stale files.",
)
@with_appcontext
def freeze_command(destination: Path) -> None:
    """Write the content pages, sitemap, robots.txt, error pages and static files.

    Absolute URLs come from SITE_URL (FLASK_SITE_URL).
    """
    urls = freeze(current_app._get_current_object(), destination)
    click.echo(f"Froze {len(urls)} files into {destination}")
