"""Text formatting (HTML parse_mode) and keyboard validation as Telegram does it."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.emulator.errors import bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

_ENTITY_TYPES = {
    "b": "bold", "strong": "bold",
    "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "code": "code", "pre": "pre", "a": "text_link",
    "tg-spoiler": "spoiler", "span": "spoiler",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_TOKEN = re.compile(r"<(/?)([a-zA-Z][\w-]*)((?:\s[^<>]*)?)>|<|[^<]+")
_ATTR = re.compile(r"""([\w-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's entity unit)."""
    return len(text.encode("utf-16-le")) // 2


def _parse_error(detail: str) -> Exception:
    return bad_request(f"can't parse entities: {detail}")


def _attrs(raw: str) -> dict[str, str]:
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTR.finditer(raw)}


def parse_html(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities); raise 400 like Telegram."""
    parts: list[str] = []
    offset = 0  # UTF-16 offset in the plain text
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    for m in _TOKEN.finditer(raw):
        byte_pos = len(raw[: m.start()].encode())
        if m[0] == "<":
            raise _parse_error(f"Unexpected end of name token at byte offset {byte_pos}")
        if m[2] is None:
            text = html.unescape(m[0])
            parts.append(text)
            offset += utf16_len(text)
            continue
        closing, tag, attrs = m[1] == "/", m[2].lower(), _attrs(m[3] or "")
        if tag not in _ENTITY_TYPES or (
            tag == "span" and not closing and attrs.get("class") != "tg-spoiler"
        ):
            raise _parse_error(f'Unsupported start tag "{tag}" at byte offset {byte_pos}')
        if not closing:
            entity: dict[str, Any] = {"type": _ENTITY_TYPES[tag]}
            if tag == "a":
                entity["url"] = attrs.get("href", "")
            elif tag == "tg-emoji":
                entity["custom_emoji_id"] = attrs.get("emoji-id", "")
            elif tag == "blockquote" and "expandable" in attrs:
                entity["type"] = "expandable_blockquote"
            elif tag == "code" and attrs.get("class", "").startswith("language-"):
                entity["language"] = attrs["class"].removeprefix("language-")
            stack.append((tag, offset, entity))
            continue
        if not stack:
            raise _parse_error(f"Unexpected end tag at byte offset {byte_pos}")
        open_tag, start, entity = stack.pop()
        if open_tag != tag:
            raise _parse_error(
                f'Unmatched end tag at byte offset {byte_pos}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        language = entity.pop("language", None) if tag == "code" else None
        if language and stack and stack[-1][0] == "pre":
            stack[-1][2]["language"] = language  # <pre><code class="language-x">
            continue
        if offset > start:
            entities.append({**entity, "offset": start, "length": offset - start})
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(parts), entities


def format_text(
    raw: str, parse_mode: str | None, entities: list[dict[str, Any]] | None, *, limit: int
) -> tuple[str, list[dict[str, Any]]]:
    """Validate a text/caption and return its plain form plus entities."""
    if parse_mode and parse_mode.lower() == "html":
        text, parsed = parse_html(raw)
    else:  # Markdown modes are stored verbatim (not parsed)
        text, parsed = raw, list(entities or [])
    if utf16_len(text) > limit:
        raise bad_request(
            "message is too long" if limit == MAX_TEXT else "message caption is too long"
        )
    return text, parsed


def command_entities(text: str) -> list[dict[str, Any]]:
    """Return the bot_command entity for a text starting with ``/command``."""
    m = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?", text)
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(m[0])}] if m else []


def validate_reply_markup(markup: Any) -> None:
    """Reject keyboards Telegram would refuse (bad callback_data, text-only inline buttons)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 0 < len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")
            if len(button) == 1:
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )


def iter_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten the inline keyboard of a Message dict into a list of buttons."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]
