"""Error-message helpers: what a message lists is capped, however large the input that caused it.

A hostile or broken file can name hundreds of thousands of things (tensors, tokens, entries); an
error that lists them all is megabytes long and hides what went wrong. Messages list the first
few and count the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

LISTED_ITEMS = 10
"""How many items an error message names before it only counts the rest."""


def capped_listing(
    items: Iterable[object], limit: int = LISTED_ITEMS, separator: str = ", "
) -> str:
    """At most ``limit`` of the items, joined by ``separator``: ``a, b, c … and 299,997 more``.

    Items are shown with ``str``, each cut at 200 characters.
    """
    items = list(items)
    shown = separator.join(_shortened(str(item)) for item in items[:limit])
    hidden = len(items) - limit
    return f"{shown} … and {hidden:,} more" if hidden > 0 else shown


def _shortened(text: str, length: int = 200) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
