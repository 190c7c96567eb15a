"""What a tester measures in a rendered page: sideways scrolling, small tap
targets, and axe-core's accessibility violations."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# WCAG 2.2 A and AA, plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
MIN_TARGET_PX = 24  # WCAG 2.5.8 Target Size (Minimum)

# Viewports, as (width, height) in CSS px.
PHONE = (360, 740)
# WCAG 1.4.10 Reflow: content must work at 320 CSS px wide (1280 px at 400%).
REFLOW = (320, 256)
# 200% zoom on a 1280x800 window: the page lays out in 640x400 CSS px, each
# drawn with 2 device pixels. That is what browser zoom does to the viewport.
ZOOM_200 = (640, 400)

_AXE = Axe()

_SMALL_TARGETS_JS = """
(minimum) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, label';
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.tagName === 'LABEL' && !['checkbox', 'radio'].includes(el.control?.type)) {
      continue;
    }
    // Not rendered: nothing to tap.
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    // WCAG 2.5.8 exempts a target inside a sentence, whose size the line of
    // text sets. Only a link directly beside other text in its <p> or <li>
    // counts as one: a link alone in its paragraph or list item (a nav list,
    // the "On this page" list) is a stand-alone target and must be big enough.
    const parent = el.parentElement;
    if (el.tagName === 'A' && ['P', 'LI'].includes(parent?.tagName)) {
      const besideText = [...parent.childNodes].some(
        (node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
      if (besideText) continue;
    }
    const box = el.getBoundingClientRect();
    if (box.width < minimum || box.height < minimum) {
      const name = (el.textContent || el.getAttribute('aria-label') || el.name || '')
        .trim().replace(/\\s+/g, ' ').slice(0, 40);
      small.push(`<${el.tagName.toLowerCase()}> "${name}": ` +
                 `${box.width.toFixed(1)}x${box.height.toFixed(1)}`);
    }
  }
  return small;
}
"""


def horizontal_overflow(page: Page) -> int:
    """How many CSS px the page scrolls sideways (0 when it fits the width)."""
    return page.evaluate(
        "() => document.scrollingElement.scrollWidth"
        " - document.scrollingElement.clientWidth"
    )


def small_tap_targets(page: Page, minimum: int = MIN_TARGET_PX) -> list[str]:
    """Each visible tap target smaller than ``minimum`` x ``minimum`` CSS px."""
    return page.evaluate(_SMALL_TARGETS_JS, minimum)


def axe_violations(page: Page, rules: list[str] | None = None) -> list[dict]:
    """axe-core's violations on the page as it is now: of AXE_TAGS, or of
    the given rules only."""
    only = (
        {"type": "rule", "values": rules}
        if rules
        else {"type": "tag", "values": AXE_TAGS}
    )
    results = _AXE.run(page, options={"runOnly": only, "resultTypes": ["violations"]})
    return results.response["violations"]


def describe_violations(violations: list[dict]) -> str:
    """The violations as a person reads them: rule, impact, help and where."""
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']}"
            f" <{violation['helpUrl']}>"
        )
        for node in violation["nodes"]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)
