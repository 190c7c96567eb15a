"""The rules between a file's English and Spanish, on its YAML data: the page
and wallet card models run them beside their own checks, so that a misspelt key
does not hide a missing Spanish section. What is not as the model wants, the
model reports."""

from collections.abc import Iterator
from collections.abc import Sized
from typing import Any

from pydantic_core import PydanticCustomError

from .messages import Loc
from .messages import locate

# Element ids the page template uses itself; a section id must not take one.
_TEMPLATE_IDS = frozenset({"main", "toc-title", "cta-title", "sources"})
# What the Spanish must have as many of as the English, in a file that has it.
_COUNTS = {
    ("lead",): "paragraph",
    ("intro",): "paragraph",
    ("card", "signs"): "sign",
    ("sources",): "source",
}


def error(loc: Loc, text: str) -> dict[str, Any]:
    """A problem for ValidationError.from_exception_data."""
    # The text goes in as a value: braces in it are not template fields.
    text_error = PydanticCustomError("content", "{text}", {"text": text})
    return {"type": text_error, "loc": loc, "input": None}


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def parity_errors(data: Any) -> list[dict[str, Any]]:
    """Unique section ids; Spanish with the English structure, paragraph for
    paragraph. A missing list counts as empty (the model calls it missing if
    it must be there)."""
    errors = [*_duplicate_ids(data, "en"), *_duplicate_ids(data, "es")]
    en, es = _get(data, "en"), _get(data, "es")
    if not (isinstance(en, dict) and isinstance(es, dict)):
        return errors
    for path, noun in _COUNTS.items():
        a, b = (_get(text, *path) or [] for text in (en, es))
        if isinstance(a, list) and isinstance(b, list) and len(a) != len(b):
            counts = f"{_count(b, noun)}; en has {_count(a, noun)}"
            errors.append(error(("es", *path), counts))
    return [*errors, *_compare(_get(en, "sections"), _get(es, "sections"), ("es",))]


def _duplicate_ids(data: Any, lang: str) -> Iterator[dict[str, Any]]:
    """Section ids are the targets of "On this page": one element each."""
    first: dict[str, Loc] = {}
    for loc, section in _walk(_get(data, lang), (lang,)):
        ident = _get(section, "id")
        if not isinstance(ident, str):
            continue
        if ident in _TEMPLATE_IDS:
            why = "is used by the page itself; rename it"
        elif ident in first:
            why = f"is already the id of {locate(data, first[ident])[1]}"
        else:
            first[ident] = loc
            continue
        yield error((*loc, "id"), f'"{ident}" {why}')


def _walk(text: Any, loc: Loc) -> Iterator[tuple[Loc, Any]]:
    for i, section in enumerate(_list(_get(text, "sections"))):
        yield (*loc, "sections", i), section
        yield from _walk(section, (*loc, "sections", i))


def _shape(body: Any) -> str:
    """``paragraph, list of 4 items``: what must match between languages."""
    return ", ".join(
        "paragraph"
        if not isinstance(block, dict)
        else f"{block['alert']} alert of {_count(_list(block.get('list')), 'item')}"
        if "alert" in block
        else f"list of {_count(_list(block.get('list')), 'item')}"
        for block in _list(body)
    )


def _compare(en: Any, es: Any, parent: Loc) -> Iterator[dict[str, Any]]:
    en, es = _list(en), _list(es)
    en_ids, es_ids = [_get(s, "id") for s in en], [_get(s, "id") for s in es]
    if not all(isinstance(i, str) for i in en_ids + es_ids):
        return
    noun = "subsection" if len(parent) > 1 else "section"
    loc = (*parent, "sections")
    if en_ids != es_ids:
        for i, section_id in enumerate(es_ids):
            if section_id not in en_ids:
                yield error((*loc, i), "is not in en")
        for section_id in en_ids:
            if section_id not in es_ids:
                yield error(loc, f'{noun} "{section_id}" is missing (en has it)')
        if set(en_ids) == set(es_ids):
            order = ", ".join(en_ids)
            yield error(loc, f"{noun}s are in a different order from en: {order}")
        return
    for i, (a, b) in enumerate(zip(en, es, strict=True)):
        en_shape, es_shape = _shape(a.get("body")), _shape(b.get("body"))
        if en_shape and es_shape and en_shape != es_shape:
            yield error((*loc, i, "body"), f"has {es_shape}; en has {en_shape}")
        yield from _compare(a.get("sections"), b.get("sections"), (*loc, i))
