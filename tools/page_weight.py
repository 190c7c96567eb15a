"""Page weight as a browser meets it on a first visit, over real HTTP.

Fetches a page with ``Accept-Encoding: br, gzip``, finds every subresource the
browser would request (from the HTML, and from the stylesheets it loads), and
adds up the bytes on the wire. It also lists what breaks issue 4's rules: web
fonts, requests to other origins, and JavaScript that is not small, deferred
and our own. ``tests/test_page_weight.py`` and ``make bench`` both use it.
"""

from __future__ import annotations

import gzip
import http.client
import re
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.parse import urlsplit

import brotli

# Issue 4's budget for a first visit.
MAX_TRANSFER_BYTES = 30_000
MAX_REQUESTS = 4
# "Any script is small": what one script of ours may weigh on the wire.
MAX_SCRIPT_BYTES = 5_000
# An inline script fetches nothing and runs where it stands, so it delays no
# rendering while it stays this small (the print button's is about 350).
MAX_INLINE_SCRIPT_CHARACTERS = 1_000

ACCEPT_ENCODING = "br, gzip"
# <link rel> values that are metadata, not downloads (canonical, hreflang).
_NON_FETCHING_RELS = {"canonical", "alternate", "author", "license", "help", "search"}
_FETCHING_RELS = {
    "stylesheet",
    "icon",
    "apple-touch-icon",
    "mask-icon",
    "manifest",
    "preload",
    "modulepreload",
    "prefetch",
}
# A connection to another origin even though nothing is downloaded yet.
_CONNECTING_RELS = {"preconnect", "dns-prefetch"}
_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}
_FONT_EXTENSIONS = (".woff", ".woff2", ".ttf", ".otf", ".eot")
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)""")
_CSS_IMPORT = re.compile(r"""@import\s+['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class Fetched:
    """One response: what it cost on the wire and its decoded body."""

    url: str
    status: int
    content_type: str
    content_encoding: str | None
    transferred: int
    body: bytes


@dataclass
class PageWeight:
    """A page and everything it pulls in, with the rules it breaks."""

    url: str
    fetched: list[Fetched] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """How many requests the first visit makes."""
        return len(self.fetched)

    @property
    def transferred(self) -> int:
        """Response bytes on the wire (status line, headers, body), all requests."""
        return sum(item.transferred for item in self.fetched)

    def budget_problems(self) -> list[str]:
        """The rules broken, the budget included."""
        problems = list(self.problems)
        if self.transferred > MAX_TRANSFER_BYTES:
            problems.append(
                f"{self.transferred} bytes transferred > {MAX_TRANSFER_BYTES}"
            )
        if self.requests > MAX_REQUESTS:
            problems.append(f"{self.requests} requests > {MAX_REQUESTS}")
        return problems


def fetch(url: str, *, headers: dict[str, str] | None = None) -> Fetched:
    """GET ``url`` as a browser would, counting the raw (compressed) bytes."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    try:
        connection.request(
            "GET", path, headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
        )
        response = connection.getresponse()
        raw = response.read()
        head = f"HTTP/1.1 {response.status} {response.reason}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in response.getheaders())
        encoding = response.getheader("Content-Encoding")
        return Fetched(
            url=url,
            status=response.status,
            content_type=response.getheader("Content-Type", ""),
            content_encoding=encoding,
            transferred=len(head.encode("latin-1")) + 2 + len(raw),
            body=decode(raw, encoding),
        )
    finally:
        connection.close()


def decode(raw: bytes, encoding: str | None) -> bytes:
    """The body as it was before ``Content-Encoding``."""
    if encoding == "br":
        return brotli.decompress(raw)
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding in (None, "identity"):
        return raw
    raise ValueError(f"unexpected Content-Encoding: {encoding}")


class Subresources(HTMLParser):
    """What an HTML page makes the browser download, and how it uses script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.connects: list[str] = []
        self.problems: list[str] = []
        self.has_icon = False
        self.inline_css: list[str] = []
        self._in_style = False
        self._script: dict | None = None
        self.scripts: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note each URL the browser fetches from this element."""
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>: inline JavaScript")
            if value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}>: javascript: URL")
        if tag == "link":
            self._link(values)
        elif tag == "script":
            self._script = {**values, "inline": ""}
        elif tag == "style":
            self._in_style = True
        if "src" in values:
            if tag != "script":
                self.urls.append(values["src"])
        elif values.get("srcset"):
            self.urls.append(values["srcset"].split(",")[0].split()[0])
        for name in ("poster", "data"):
            if values.get(name):
                self.urls.append(values[name])
        if "href" in values and tag not in ("a", "area", "link", "base"):
            self.urls.append(values["href"])  # e.g. SVG <use href>

    def _link(self, values: dict[str, str]) -> None:
        rels = set(values.get("rel", "").lower().split())
        href = values.get("href", "")
        if "icon" in rels:
            self.has_icon = True
        if rels & _FETCHING_RELS:
            self.urls.append(href)
        elif rels & _CONNECTING_RELS:
            self.connects.append(href)
        elif not rels & _NON_FETCHING_RELS:
            self.problems.append(f"<link rel={values.get('rel')!r}>: unknown rel")

    def handle_data(self, data: str) -> None:
        """Collect inline scripts and styles."""
        if self._script is not None:
            self._script["inline"] += data
        elif self._in_style:
            self.inline_css.append(data)

    def handle_endtag(self, tag: str) -> None:
        """Close a script or a style element."""
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            self._script = None
        elif tag == "style":
            self._in_style = False


def measure(url: str) -> PageWeight:
    """Fetch ``url`` and everything it references, once each."""
    weight = PageWeight(url=url)
    origin = urlsplit(url).netloc
    page = fetch(url)
    weight.fetched.append(page)
    if page.status != 200 or not page.content_type.startswith("text/html"):
        weight.problems.append(f"{url}: {page.status} {page.content_type}")
        return weight
    parser = Subresources()
    parser.feed(page.body.decode("utf-8"))
    weight.problems += parser.problems
    for ref in parser.connects:
        if urlsplit(urljoin(url, ref)).netloc != origin:
            weight.problems.append(f"third-party connection: {ref}")

    queue = [urljoin(url, ref) for ref in parser.urls if not ref.startswith("data:")]
    queue += _script_urls(parser, url, weight)
    for css in parser.inline_css:
        queue += _css_references(css, url, weight)
    if not parser.has_icon:
        # With no <link rel=icon>, browsers ask for this anyway.
        queue.append(urljoin(url, "/favicon.ico"))

    seen = {url}
    while queue:
        ref = queue.pop(0)
        if ref in seen:
            continue
        seen.add(ref)
        if urlsplit(ref).netloc != origin:
            weight.problems.append(f"third-party request: {ref}")
            continue
        item = fetch(ref)
        weight.fetched.append(item)
        if _is_font(item):
            weight.problems.append(f"web font: {ref}")
        if item.content_type.startswith("text/css"):
            queue += _css_references(item.body.decode("utf-8"), ref, weight)
        if item.content_type.split(";")[0] in (
            "text/javascript",
            "application/javascript",
        ):
            if item.transferred > MAX_SCRIPT_BYTES:
                weight.problems.append(
                    f"script {ref}: {item.transferred} bytes > {MAX_SCRIPT_BYTES}"
                )
    return weight


def _script_urls(parser: Subresources, base: str, weight: PageWeight) -> list[str]:
    """Executable scripts must be of this origin and deferred, or inline and
    tiny."""
    urls = []
    for script in parser.scripts:
        if script.get("type", "").lower() not in _SCRIPT_TYPES:
            continue  # JSON-LD and other data blocks run nothing
        if not script.get("src"):
            if len(script["inline"]) > MAX_INLINE_SCRIPT_CHARACTERS:
                weight.problems.append(
                    f"inline <script> of {len(script['inline'])} characters > "
                    f"{MAX_INLINE_SCRIPT_CHARACTERS}: make it a deferred file"
                )
            continue
        deferred = "defer" in script or script.get("type") == "module"
        if not deferred:
            weight.problems.append(f"<script src={script['src']!r}> is not deferred")
        urls.append(urljoin(base, script["src"]))
    return urls


def _css_references(css: str, base: str, weight: PageWeight) -> list[str]:
    """Files a stylesheet pulls in (imports, images, fonts)."""
    if "@font-face" in css:
        weight.problems.append(f"web font declared (@font-face) in {base}")
    refs = _CSS_IMPORT.findall(css) + _CSS_URL.findall(css)
    return [urljoin(base, ref) for ref in refs if not ref.startswith(("data:", "#"))]


def _is_font(item: Fetched) -> bool:
    path = urlsplit(item.url).path.lower()
    return item.content_type.startswith("font/") or path.endswith(_FONT_EXTENSIONS)
