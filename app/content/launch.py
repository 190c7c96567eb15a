"""What the clinic must still give or review before launch: ``flask content
check --launch`` lists it; the deploy guide runs it before ``flask freeze``."""

import re
from pathlib import Path

from .load import Document
from .models import Content

# The marker of a content/CHANGES.md list item no clinician has reviewed yet
# (CHANGES.md explains it; a reviewed item says "**Reviewed by ...**").
AWAITING_REVIEW = "**For clinician review.**"
_LAUNCH_FACTS = {
    "phone": "the number every page gives for calls",
    "hours": "the office hours",
    "response_time": "how soon staff call back after a request, in en and es",
    "privacy_practices_url": "the Notice of Privacy Practices, in en and es",
}


def launch_problems(content: Content, directory: str | Path) -> list[str]:
    """One line per clinic fact still missing from ``site.yaml``, topic page
    without a named medical reviewer, and CHANGES.md item still awaiting
    clinician review; empty when the site is ready to launch."""
    root = Path(directory)
    site_doc = Document(root / "site.yaml", root)
    for key, what in _LAUNCH_FACTS.items():
        if getattr(content.site, key) is None:
            site_doc.problem((key,), f"not set: {what}")
    problems = site_doc.sorted_problems()
    for page in content.pages.values():
        if page.kind == "topic" and page.review is None:
            doc = Document(root / "pages" / f"{page.id}.yaml", root)
            doc.problem(("review",), "no medical reviewer named yet")
            problems += doc.sorted_problems()
    try:
        lines = (root / "CHANGES.md").read_text(encoding="utf-8").splitlines()
    except OSError:
        return [*problems, "CHANGES.md: missing; it lists the changes to review"]
    for number, line in enumerate(lines, start=1):
        item = re.match(r"\s*[-*] (.*)", line)
        if item and AWAITING_REVIEW in line:
            words = item[1].replace(AWAITING_REVIEW, "").strip()
            excerpt = words if len(words) <= 72 else words[:71].rstrip() + "…"
            why = f"awaiting clinician review: {excerpt}"
            problems.append(f"CHANGES.md:{number}: {why}")
    return problems
