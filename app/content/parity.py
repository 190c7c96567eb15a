"""The rules between a page's English and Spanish, as pydantic model validators.

They run on an outline of the page: section ids, the kinds of block and how
many, lead paragraphs and sources, with every other key ignored and nothing
required. So a misspelt or missing key elsewhere, which the page's own model
reports, does not hide a missing Spanish section: both come out in one run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from typing import Any

from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import ValidationError
from pydantic import model_validator

from .messages import context
from .models import LANGUAGES
from .models import Loc
from .models import _count
from .models import _error

# Element ids the page template uses itself; a section id must not take one.
_TEMPLATE_IDS = frozenset({"main", "toc-title", "cta-title", "sources"})


def _shape(body: Any) -> str:
    """``paragraph, list of 4 items``: what must match between languages
    ("" when there is no body to compare)."""
    return ", ".join(
        "paragraph"
        if not isinstance(block, dict)
        else f"{block['alert']} alert of {_count(_items(block.get('list')), 'item')}"
        if "alert" in block
        else f"list of {_count(_items(block.get('list')), 'item')}"
        for block in _items(body)
    )


def _items(value: Any) -> list:
    return value if isinstance(value, list) else []


class _Outline(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SectionOutline(_Outline):
    """A section's id, the shape of its body and its subsections."""

    id: Any = None  # not text: the page's model says so, parity skips it
    body: Annotated[str, BeforeValidator(_shape)] = ""
    sections: tuple[SectionOutline, ...] = ()


class TextOutline(_Outline):
    """One language's countable parts; None where the key is missing."""

    lead: tuple[Any, ...] | None = None
    sources: tuple[Any, ...] = ()
    sections: tuple[SectionOutline, ...] = ()


class PageOutline(_Outline):
    """A page file's two languages, checked against each other."""

    en: TextOutline | None = None
    es: TextOutline | None = None

    @model_validator(mode="after")
    def _same_in_both_languages(self) -> PageOutline:
        """Section ids unique per language; Spanish matching English."""
        errors = [*self._duplicate_ids(), *self._parity()]
        if errors:
            raise ValidationError.from_exception_data("PageOutline", errors)
        return self

    def _duplicate_ids(self) -> Iterator[dict[str, Any]]:
        """Section ids are the targets of "On this page": one element each."""
        for lang in LANGUAGES:
            first: dict[str, Loc] = {}
            for loc, section in _walk(getattr(self, lang), (lang,)):
                if not isinstance(section.id, str):
                    continue
                if section.id in _TEMPLATE_IDS:
                    taken = "is used by the page itself; rename it"
                    yield _error((*loc, "id"), f'"{section.id}" {taken}')
                elif section.id in first:
                    other = context(self, first[section.id])
                    yield _error(
                        (*loc, "id"), f'"{section.id}" is already the id of {other}'
                    )
                else:
                    first[section.id] = loc

    def _parity(self) -> Iterator[dict[str, Any]]:
        """The Spanish text has the English structure, paragraph for paragraph."""
        en, es = self.en, self.es
        if en is None or es is None:
            return  # a language missing altogether: the page's model says so
        for key, noun in (("lead", "paragraph"), ("sources", "source")):
            en_items, es_items = getattr(en, key), getattr(es, key)
            if None not in (en_items, es_items) and len(en_items) != len(es_items):
                counts = f"{_count(es_items, noun)}; en has {_count(en_items, noun)}"
                yield _error(("es", key), counts)
        yield from _compare(en.sections, es.sections, ("es",))


def _walk(
    text: TextOutline | SectionOutline | None, loc: Loc
) -> Iterator[tuple[Loc, SectionOutline]]:
    """Every section and subsection, with where it is."""
    for i, section in enumerate(text.sections if text else ()):
        yield (*loc, "sections", i), section
        yield from _walk(section, (*loc, "sections", i))


def _compare(
    en: tuple[SectionOutline, ...], es: tuple[SectionOutline, ...], parent: Loc
) -> Iterator[dict[str, Any]]:
    en_ids, es_ids = [s.id for s in en], [s.id for s in es]
    if not all(isinstance(i, str) for i in en_ids + es_ids):
        return  # a section without an id: the page's model says so
    noun = "subsection" if len(parent) > 1 else "section"
    loc = (*parent, "sections")
    if en_ids != es_ids:
        for i, section_id in enumerate(es_ids):
            if section_id not in en_ids:
                yield _error((*loc, i), "is not in en")
        for section_id in en_ids:
            if section_id not in es_ids:
                yield _error(loc, f'{noun} "{section_id}" is missing (en has it)')
        if set(en_ids) == set(es_ids):
            order = ", ".join(en_ids)
            yield _error(loc, f"{noun}s are in a different order from en: {order}")
        return
    for i, (a, b) in enumerate(zip(en, es, strict=True)):
        if a.body and b.body and a.body != b.body:
            yield _error((*loc, i, "body"), f"has {b.body}; en has {a.body}")
        yield from _compare(a.sections, b.sections, (*loc, i))


def parity_errors(data: Any) -> list[dict[str, Any]]:
    """The parity problems of a page file's YAML data, as pydantic errors.

    Any other error of the outline is left to the page's own model.
    """
    try:
        PageOutline.model_validate(data)
    except ValidationError as error:
        return [e for e in error.errors() if e["type"] == "content"]
    return []
