"""Parsing quoted title lists as they appear in the Goodreads-style prompts."""

from __future__ import annotations

import re
from typing import Literal

TitleParser = Literal["list", "seed"]

_SEED_HISTORY = re.compile(r'"(.*?)"')  # the seed's non-greedy history regex (docs/seed-method.md §1.1)
_LIST_SEPARATOR = '", "'


def parse_title_list(text: str, parser: TitleParser = "list") -> list[str]:
    """Titles of a `"A", "B", ...` list inside `text`.

    `list` (default) splits the span between the first and the last quote on `", "`, so a title
    with inner quotes (`A Child Called "It"`) stays whole; titles written back to back (`"A""B"`, the
    `ids` prompt) split on `""`. `seed` is the seed's `"(.*?)"` regex.
    """
    if parser == "seed":
        return _SEED_HISTORY.findall(text)
    first, last = text.find('"'), text.rfind('"')
    if first < 0 or last <= first:
        return []
    inner = text[first + 1 : last]
    if _LIST_SEPARATOR not in inner and '""' in inner:
        return inner.split('""')
    return inner.split(_LIST_SEPARATOR)


def parse_target(text: str) -> str:
    """The title of a `"Title"\\n` output field: surrounding whitespace and one pair of quotes removed."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text.strip('"')


def quote(title: str) -> str:
    """A title in the dataset's quoted form."""
    return f'"{title}"'
