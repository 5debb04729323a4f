"""Telegram's length rule for message text, in one place: counting, splitting, shortening.

Telegram counts a message's length in UTF-16 code units (an emoji outside the Basic
Multilingual Plane counts two) and refuses a text over 4,096 of them ("message is too
long"), 1,024 for a caption. Everything the bot sends that holds user text goes through
`split_html` (long content over several messages) or `shorten_html` (one message that
quotes user text, cut with an ellipsis). Both count the raw HTML, which is never shorter
than what Telegram counts after parsing it, and cut only between whole tokens: never
inside a tag (`<b>`) or a character reference (`&amp;`), and, when it can, outside any
open element and after a line break or a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TELEGRAM_LIMIT = 4096  # a message's text
CAPTION_LIMIT = 1024  # a media caption
SAFE_LIMIT = 4000  # what the bot aims for, leaving room for a header or a note
ELLIPSIS = "…"

_TOKEN = re.compile(
    r"(?P<tag><(?P<close>/?)[a-zA-Z][\w-]*(?:\s[^<>]*)?>)"
    r"|(?P<ref>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{0,31});)"
)


def utf16_len(text: str) -> int:
    """The length of `text` as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def fits(text: str, limit: int = TELEGRAM_LIMIT) -> bool:
    """Whether Telegram would accept `text` under `limit`."""
    return utf16_len(text) <= limit


@dataclass(frozen=True)
class _Atom:
    end: int  # index in the text just after this atom
    units: int  # its UTF-16 length
    depth: int  # open elements after it
    text: str


def _atoms(text: str) -> list[_Atom]:
    """The text as indivisible pieces: a tag, a character reference, or one character."""
    atoms: list[_Atom] = []
    depth = 0
    position = 0

    def chars(upto: int) -> None:
        for index in range(position, upto):
            char = text[index]
            atoms.append(_Atom(index + 1, 2 if ord(char) > 0xFFFF else 1, depth, char))

    for match in _TOKEN.finditer(text):
        chars(match.start())
        if match["tag"]:
            depth = max(0, depth - 1) if match["close"] else depth + 1
        atoms.append(_Atom(match.end(), utf16_len(match[0]), depth, match[0]))
        position = match.end()
    chars(len(text))
    return atoms


def _best_cut(atoms: list[_Atom], first: int, last: int) -> int:
    """Index of the atom to cut after, among atoms[first..last] (inclusive)."""
    at_top = [i for i in range(first, last + 1) if atoms[i].depth == 0]
    half = first + (last - first) // 2  # a break in the first half would waste a message
    for wanted in ("\n", " "):
        for i in reversed(at_top):
            if i < half:
                break
            if atoms[i].text == wanted:
                return i
    return at_top[-1] if at_top else last


def split_html(text: str, limit: int = SAFE_LIMIT) -> list[str]:
    """`text` cut into parts of at most `limit` UTF-16 units whose concatenation is `text`.

    Cuts fall between tokens (never inside a tag or `&...;`), preferably outside any open
    element, after a line break, else after a space. A single token longer than `limit`
    (only a tag could be) becomes a part of its own.
    """
    if utf16_len(text) <= limit:
        return [text] if text else []
    atoms = _atoms(text)
    parts: list[str] = []
    start = 0  # index of the first atom of the current part
    begin = 0  # its index in the text
    while start < len(atoms):
        units, last = 0, start - 1
        while last + 1 < len(atoms) and units + atoms[last + 1].units <= limit:
            last += 1
            units += atoms[last].units
        if last + 1 >= len(atoms):
            cut = len(atoms) - 1
        elif last < start:
            cut = start  # one oversized token
        else:
            cut = _best_cut(atoms, start, last)
        parts.append(text[begin : atoms[cut].end])
        begin = atoms[cut].end
        start = cut + 1
    return parts


_TAG_NAME = re.compile(r"</?([a-zA-Z][\w-]*)")


def balance_html(parts: list[str]) -> list[str]:
    """Parts of one HTML text, each made valid on its own: an element a cut went through is
    closed at the end of its part and opened again (same tag, same attributes) at the start
    of the next. Adds at most the length of the open tags and their closers to a part."""
    balanced: list[str] = []
    carried: list[tuple[str, str]] = []  # (name, opening tag) still open
    for part in parts:
        opened = "".join(tag for _, tag in carried)
        stack = list(carried)
        for match in _TOKEN.finditer(part):
            if not match["tag"]:
                continue
            name = _TAG_NAME.match(match[0])[1].lower()  # type: ignore[index]
            if match["close"]:
                if stack and stack[-1][0] == name:
                    stack.pop()
            else:
                stack.append((name, match[0]))
        closers = "".join(f"</{name}>" for name, _ in reversed(stack))
        balanced.append(opened + part + closers)
        carried = stack
    return balanced


def split_balanced(text: str, limit: int = SAFE_LIMIT) -> list[str]:
    """`split_html`, then `balance_html`: parts of at most `limit` units, each valid HTML on
    its own (when `text` is), cut preferably outside elements and between lines."""
    room = limit
    while True:
        parts = balance_html(split_html(text, room))
        excess = max((utf16_len(p) - limit for p in parts), default=0)
        if excess <= 0 or room <= 1:
            return parts
        room = max(1, room - excess)


def shorten_html(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """`text` if it fits in `limit` UTF-16 units, else its longest safe beginning plus `…`.

    The cut never breaks a tag or a character reference, never leaves an element open,
    and falls after a line break, else a space, when one is near the end.
    """
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(ellipsis)
    if room <= 0:
        return ellipsis if utf16_len(ellipsis) <= limit else ""
    atoms = _atoms(text)
    units, last = 0, -1
    while units + atoms[last + 1].units <= room:
        last += 1
        units += atoms[last].units
    top = [i for i in range(last + 1) if atoms[i].depth == 0]
    if not top:
        return ellipsis
    cut = top[-1]
    for wanted in ("\n", " "):  # prefer a line break, then a space, in the last fifth
        boundary = next((i for i in reversed(top) if atoms[i].text == wanted), -1)
        if boundary >= cut * 4 // 5:
            cut = boundary
            break
    return text[: atoms[cut].end].rstrip() + ellipsis
