"""``flask freeze``: the content pages as static files, for nginx or a CDN.

Frozen-Flask requests every page from the app and writes the response to
``build/``. URLs are found the way the site links them, through ``url_for``,
so renamed or content-hashed static files are found too. The appointment
form, its POST and the redirects and health check stay with the app.
"""

from __future__ import annotations

import contextvars
from pathlib import Path

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext
from flask_frozen import Freezer

from . import static_errors
from .content import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DESTINATION = ROOT / "build"

# Endpoints whose answer depends on the visitor or changes with every request.
DYNAMIC_BLUEPRINTS = ("appointments",)
DYNAMIC_ENDPOINTS = ("pages.root", "pages.language_root", "pages.healthz")

# The not-found page, for the web server's error_page: the English one at the
# root, and one per other language under its prefix (/es/404.html).
NOT_FOUND_URLS = tuple(
    "/404.html" if lang == "en" else f"/{lang}/404.html" for lang in LANGUAGES
)


def init_app(app: Flask) -> None:
    """Register ``flask freeze``."""
    app.cli.add_command(freeze_command)


def is_dynamic(endpoint: str | None) -> bool:
    """Whether ``endpoint`` must stay with the app rather than be frozen."""
    if endpoint is None:
        return False
    blueprint = endpoint.partition(".")[0]
    return endpoint in DYNAMIC_ENDPOINTS or blueprint in DYNAMIC_BLUEPRINTS


class SiteFreezer(Freezer):
    """Frozen-Flask, leaving the dynamic endpoints to the app."""

    def __init__(self, app: Flask) -> None:
        """A freezer of ``app`` that knows the site's own URLs."""
        # No automatic no-argument rules: they would freeze "/" and /healthz.
        super().__init__(app, with_no_argument_rules=False)
        self.register_generator(self.site_urls)

    def site_urls(self):
        """Every content page in every language, the sitemap, robots.txt and
        nginx's error pages."""
        for page in current_app.extensions["content"].pages.values():
            for lang in page.slugs:
                yield "pages.page", {"page_id": page.id, "lang_code": lang}
        yield "pages.sitemap", {}
        yield "pages.robots", {}
        # nginx's own error pages, never linked (app/static_errors.py).
        for code in static_errors.MESSAGES:
            yield "static_errors.page", {"code": code}

    def _generate_all_urls(self):
        """Frozen-Flask's URLs, less the dynamic ones.

        The one place every URL passes through, including those the pages
        link to (the form's, in the header of every page).
        """
        for url, endpoint, last_modified in super()._generate_all_urls():
            if not is_dynamic(endpoint):
                yield url, endpoint, last_modified

    def _build_one(self, url, last_modified=None):
        """Request and write one URL, in a clean context like a live request.

        Frozen-Flask requests each page while its own request context is
        active, so every page would share one ``g``, and Flask-Babel caches
        the first page's language there.
        """
        return contextvars.Context().run(super()._build_one, url, last_modified)

    def _check_endpoints(self, seen_endpoints):
        """Warn about endpoints with nothing frozen, but not the dynamic ones."""
        dynamic = {e for e in self.app.view_functions if is_dynamic(e)}
        super()._check_endpoints(set(seen_endpoints) | dynamic)


def freeze(app: Flask, destination: Path, base_url: str) -> list[str]:
    """Write the site's static pages into ``destination``; return their URLs."""
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
        FREEZER_BASE_URL=base_url,
        # Pages have no extension (/en/immunotherapy); they are HTML.
        FREEZER_DEFAULT_MIMETYPE="text/html",
    )
    freezer = SiteFreezer(app)
    urls = sorted(freezer.freeze())
    client = app.test_client()
    for url in NOT_FOUND_URLS:
        # Outside the command's app context, for the reason in _build_one.
        response = contextvars.Context().run(client.get, url, base_url=base_url)
        if response.status_code != 404:
            raise click.ClickException(f"{url} answered {response.status_code}")
        target = freezer.root / url.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.get_data())
        urls.append(url)
    return urls


@click.command("freeze")
@click.option(
    "--destination",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DESTINATION,
    show_default=True,
    help="Folder to write; Frozen-Flask owns it and removes stale files.",
)
@click.option(
    "--base-url",
    envvar="FLASK_FREEZER_BASE_URL",
    required=True,
    help="The site's public address, e.g. https://immunotherapy.example.org/ "
    "(canonical links, sitemap). Or set FLASK_FREEZER_BASE_URL.",
)
@with_appcontext
def freeze_command(destination: Path, base_url: str) -> None:
    """Write the content pages, sitemap, robots.txt, 404 pages and static files."""
    urls = freeze(current_app._get_current_object(), destination, base_url)
    click.echo(f"Froze {len(urls)} files into {destination}")
