"""The topic and privacy pages, in both languages, through the real app."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from helpers import FORM_PATHS
from helpers import SITE_URL

from app.content import load_content

CONTENT = load_content("content")
PAGES = [(page, lang) for page in CONTENT.pages.values() for lang in ("en", "es")]


def page_url(page, lang: str) -> str:
    return f"/{lang}/{page.slugs[lang]}"


class Outline(HTMLParser):
    """Collects what a reader (or a screen reader) meets on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.headings: list[tuple[str, str]] = []
        self.links: list[dict] = []
        self.html_lang = None
        self._heading = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag in ("h1", "h2", "h3"):
            self._heading = [tag, ""]
        if tag == "a" or tag == "link":
            self.links.append({**attrs, "tag": tag})

    def handle_data(self, data):
        if self._heading:
            self._heading[1] += data

    def handle_endtag(self, tag):
        if self._heading and tag == self._heading[0]:
            self.headings.append((tag, self._heading[1].strip()))
            self._heading = None


def outline(response) -> Outline:
    parser = Outline()
    parser.feed(response.get_data(as_text=True))
    return parser


@pytest.mark.parametrize(("page", "lang"), PAGES, ids=lambda v: getattr(v, "id", v))
def test_page_shows_every_section_in_its_language(client, page, lang):
    response = client.get(page_url(page, lang))
    assert response.status_code == 200
    doc = outline(response)
    text = page.text[lang]
    assert doc.html_lang == lang
    assert [h for h in doc.headings if h[0] == "h1"] == [("h1", text.title)]
    headings = [h[1] for h in doc.headings]
    toc_targets = {a["href"] for a in doc.links if a.get("href", "").startswith("#")}
    for section in text.sections:
        for part in (section, *section.sections):
            assert part.heading in headings
            assert part.id in doc.ids
            assert f"#{part.id}" in toc_targets, f"'On this page' misses {part.id}"
    body = response.get_data(as_text=True)
    assert f'<time datetime="{page.updated.isoformat()}">' in body
    assert f"<title>{text.title} |" in body


def test_topic_page_has_the_types_and_the_side_effect_lists(client):
    body = client.get("/en/immunotherapy").get_data(as_text=True)
    for heading in (
        "Monoclonal antibodies",
        "Cancer treatment vaccines",
        "Cytokine",
        "T-cell transfer therapy",
        "Donor lymphocyte infusion",
        "Oncolytic virus therapy",
        "Immune system modulators",
        "Immune checkpoint inhibitors",
    ):
        assert re.search(rf"<h3 id=\"[a-z-]+\">{heading}", body), heading
    # Trouble breathing is a 911 sign (issue 14), low blood pressure a call.
    for effect in ("Trouble breathing", "Swelling", "Redness"):
        assert f"<li>{effect}" in body
    assert "low blood pressure" in body
    # The needle-site reactions are not presented as signs of an allergy.
    assert "Signs can include" not in body
    spanish = client.get("/es/inmunoterapia").get_data(as_text=True)
    # Radiation carried by an antibody, under monoclonal antibodies (issue 24).
    assert "radioinmunoterapia" in spanish
    assert "presión arterial baja" in spanish.lower()


@pytest.mark.parametrize(("page", "lang"), PAGES, ids=lambda v: getattr(v, "id", v))
def test_toggle_leads_to_the_twin_page_and_back(client, page, lang):
    other = "es" if lang == "en" else "en"
    doc = outline(client.get(page_url(page, lang)))
    toggles = [a for a in doc.links if a["tag"] == "a" and a.get("hreflang")]
    assert len(toggles) == 1
    toggle = toggles[0]
    assert toggle["href"] == page_url(page, other)
    assert toggle["lang"] == other
    back = outline(client.get(toggle["href"]))
    assert back.html_lang == other
    back_toggle = next(a for a in back.links if a["tag"] == "a" and a.get("hreflang"))
    assert back_toggle["href"] == page_url(page, lang)


def head_links(response) -> dict[tuple, str]:
    """Each <link> as (rel, hreflang) -> href."""
    return {
        (a.get("rel"), a.get("hreflang")): a["href"]
        for a in outline(response).links
        if a["tag"] == "link"
    }


@pytest.mark.parametrize(("page", "lang"), PAGES, ids=lambda v: getattr(v, "id", v))
def test_alternates_and_canonical(client, page, lang):
    links = head_links(client.get(page_url(page, lang)))
    assert links[("canonical", None)] == SITE_URL + page_url(page, lang)
    assert links[("alternate", "en")] == SITE_URL + page_url(page, "en")
    assert links[("alternate", "es")] == SITE_URL + page_url(page, "es")
    assert links[("alternate", "x-default")] == SITE_URL + page_url(page, "en")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_form_has_alternates_and_canonical_too(client, lang):
    links = head_links(client.get(FORM_PATHS[lang]))
    assert links[("canonical", None)] == SITE_URL + FORM_PATHS[lang]
    assert links[("alternate", "en")] == SITE_URL + FORM_PATHS["en"]
    assert links[("alternate", "es")] == SITE_URL + FORM_PATHS["es"]
    assert links[("alternate", "x-default")] == SITE_URL + FORM_PATHS["en"]


@pytest.mark.parametrize(
    "path", ["/en/no-such-page", "/es/solicitar-cita/recibida", "/en/request-app"]
)
def test_pages_not_to_index_have_no_canonical(client, path):
    links = head_links(client.get(path))
    assert not any(rel in ("canonical", "alternate") for rel, _ in links)


@pytest.mark.parametrize(("page", "lang"), PAGES, ids=lambda v: getattr(v, "id", v))
def test_search_and_sharing_metadata(client, page, lang):
    body = client.get(page_url(page, lang)).get_data(as_text=True)
    description = page.text[lang].description
    assert f'<meta name="description" content="{description}">' in body
    assert f'<meta property="og:title" content="{page.text[lang].title}">' in body
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    import json

    data = json.loads(match.group(1))
    assert data["inLanguage"] == lang
    assert data["dateModified"] == page.updated.isoformat()
    # Only a real medical review may be claimed (issue 10).
    if page.review:
        assert data["lastReviewed"] == page.review.date.isoformat()
        assert data["reviewedBy"] == {"@type": "Person", "name": page.review.name}
    else:
        assert "lastReviewed" not in data
        assert "reviewedBy" not in data
    if page.kind == "topic":
        assert data["@type"] == "MedicalWebPage"


def test_titles_and_descriptions_are_unique(client):
    seen = set()
    for page, lang in PAGES:
        body = client.get(page_url(page, lang)).get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", body).group(1)
        description = re.search(
            r'<meta name="description" content="(.*?)">', body
        ).group(1)
        assert title not in seen and description not in seen
        seen |= {title, description}


@pytest.mark.parametrize(
    ("headers", "cookie", "expected"),
    [
        ({}, None, "/en/immunotherapy"),
        ({"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}, None, "/es/inmunoterapia"),
        ({"Accept-Language": "fr, en;q=0.5"}, None, "/en/immunotherapy"),
        ({"Accept-Language": "en"}, "es", "/es/inmunoterapia"),
        ({"Accept-Language": "es"}, "en", "/en/immunotherapy"),
        ({"Accept-Language": "es"}, "xx", "/es/inmunoterapia"),
    ],
)
def test_root_redirects_by_cookie_then_browser_then_english(
    client, headers, cookie, expected
):
    if cookie:
        client.set_cookie("lang", cookie)
    response = client.get("/", headers=headers)
    assert response.status_code == 302
    assert response.location == expected
    assert {"Cookie", "Accept-Language"} <= set(response.vary)


def test_visiting_a_language_remembers_it_for_the_root(client):
    client.get("/es/inmunoterapia")
    assert client.get("/", headers={"Accept-Language": "en"}).location == (
        "/es/inmunoterapia"
    )
    client.get("/en/immunotherapy")
    assert client.get("/", headers={"Accept-Language": "es"}).location == (
        "/en/immunotherapy"
    )


@pytest.mark.parametrize(
    ("path", "expected"), [("/en/", "/en/immunotherapy"), ("/es/", "/es/inmunoterapia")]
)
def test_language_roots_redirect_to_their_own_topic_page(client, path, expected):
    response = client.get(
        path, headers={"Accept-Language": "es" if "en" in path else "en"}
    )
    assert response.status_code == 302
    assert response.location == expected


@pytest.mark.parametrize(
    ("path", "headers", "lang", "message"),
    [
        ("/fr/immunotherapy", {"Accept-Language": "es"}, "es", "Página no encontrada"),
        ("/fr/", {}, "en", "Page not found"),
        ("/es/immunotherapy", {"Accept-Language": "en"}, "es", "Página no encontrada"),
        ("/en/inmunoterapia", {"Accept-Language": "es"}, "en", "Page not found"),
        ("/en/no-such-page", {}, "en", "Page not found"),
        ("/es/no-existe", {}, "es", "Página no encontrada"),
    ],
)
def test_unknown_pages_are_404_in_the_visitors_language(
    client, path, headers, lang, message
):
    response = client.get(path, headers=headers)
    assert response.status_code == 404
    doc = outline(response)
    assert doc.html_lang == lang
    assert ("h1", message) in doc.headings
    # Still the site's layout: the header's appointment button is there.
    assert any(a.get("class") == "button" for a in doc.links)


def test_sitemap_lists_every_page_in_both_languages_with_alternates(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    from xml.etree import ElementTree

    ns = {
        "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "x": "http://www.w3.org/1999/xhtml",
    }
    root = ElementTree.fromstring(response.data)
    urls = {u.findtext("s:loc", namespaces=ns): u for u in root.findall("s:url", ns)}
    expected = {f"{SITE_URL}{page_url(p, lang)}" for p, lang in PAGES}
    expected |= {SITE_URL + path for path in FORM_PATHS.values()}
    expected |= {SITE_URL + "/en/wallet-card", SITE_URL + "/es/tarjeta-de-bolsillo"}
    assert set(urls) == expected
    for loc, url in urls.items():
        alternates = {
            link.get("hreflang"): link.get("href") for link in url.findall("x:link", ns)
        }
        assert set(alternates) == {"en", "es", "x-default"}
        assert loc in alternates.values()
        assert client.get(loc.removeprefix(SITE_URL)).status_code == 200


def test_robots_and_health(client):
    robots = client.get("/robots.txt")
    assert robots.status_code == 200
    assert f"Sitemap: {SITE_URL}/sitemap.xml" in robots.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["status"] == "ok"


def test_header_and_footer_carry_the_clinic_identity(client):
    site = CONTENT.site
    for path, former, privacy in (
        ("/en/immunotherapy", "Formerly known as", "/en/privacy"),
        ("/es/inmunoterapia", "Antes se llamaba", "/es/privacidad"),
    ):
        body = client.get(path).get_data(as_text=True)
        assert f"{former} {site.former_name}" in body
        assert f'href="{privacy}"' in body
        assert "911" in body
        assert 'href="#main"' in body and 'id="main"' in body
