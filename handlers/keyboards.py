"""Inline keyboards, built from catalogue text and callback_data payloads."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks.people import Cancel

PAGE_SIZE = 12


def paged(
    items: Sequence[tuple[str, str]],
    *,
    page: int,
    to_page: Callable[[int], str],
    cancel_label: str,
) -> InlineKeyboardMarkup:
    """One button per (label, payload), a page at a time, with ‹ › and a cancel button.
    `to_page(n)` is the packed payload that turns to page n."""
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    chunk = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [[InlineKeyboardButton(label, callback_data=data)] for label, data in chunk]
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=to_page(page - 1)))
    if pages > 1:
        nav.append(InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=to_page(page)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("›", callback_data=to_page(page + 1)))
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(cancel_label, callback_data=Cancel().pack())])
    return InlineKeyboardMarkup(rows)


def choices(items: Sequence[tuple[str, str]], *, per_row: int = 2) -> InlineKeyboardMarkup:
    """A small grid of buttons."""
    rows = [
        [InlineKeyboardButton(label, callback_data=data) for label, data in items[i : i + per_row]]
        for i in range(0, len(items), per_row)
    ]
    return InlineKeyboardMarkup(rows)


def button_label(text: str, limit: int = 60) -> str:
    """Shortens a long unit name so it fits a phone-width button."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
