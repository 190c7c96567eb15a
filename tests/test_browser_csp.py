"""In a real browser the CSP blocks nothing the site uses, and blocks inline script.

Chromium loads each content page from gunicorn and reports every CSP violation
and console message. The JSON-LD block is a <script> element, but one of type
application/ld+json: a data block, which the HTML standard never runs, so CSP's
script-src does not apply to it. The control at the end shows the listener
does catch a real violation.
"""

from __future__ import annotations

import re

import pytest
from servers import gunicorn
from servers import production_env

pytestmark = pytest.mark.browser

# Runs before any of the page's own content, and is not subject to its CSP.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site under gunicorn, as in production."""
    tmp_path = tmp_path_factory.mktemp("csp")
    with gunicorn(production_env(tmp_path), tmp_path / "gunicorn.log") as server:
        yield server


@pytest.mark.parametrize("path", ["/en/immunotherapy", "/es/inmunoterapia"])
def test_pages_run_under_the_csp_without_a_violation(site, browser, path):
    page = browser.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
    page.on("pageerror", lambda error: console.append(str(error)))
    page.add_init_script(COLLECT_VIOLATIONS)
    response = page.goto(site.url + path)
    assert "script-src 'self'" in response.headers["content-security-policy"]

    # The stylesheet loaded and applies.
    assert page.evaluate("document.styleSheets[0].cssRules.length") > 10
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    # The JSON-LD is there for search engines, intact.
    data = page.evaluate(
        "JSON.parse(document.querySelector('script[type=\"application/ld+json\"]')"
        ".textContent)"
    )
    assert data["@type"] == "MedicalWebPage"
    assert page.evaluate("window.__violations") == []
    # The print button's inline script ran: its hash is the one the CSP allows.
    assert page.get_by_role("button", name=re.compile("Print|Imprimir")).is_visible()
    # Chromium asks for /favicon.ico on its own; the site has none (yet).
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    complaints = [text for text in console if "404" not in text]
    assert complaints == [], "the browser complained (CSP, Permissions-Policy...)"

    # Control: an inline script is refused, and the listener sees it.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.head.append(s); }"
    )
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert page.evaluate("window.__violations")[0].startswith("script-src")
    page.close()
