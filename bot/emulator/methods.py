"""Bot API methods (except getUpdates) implemented against EmulatorState."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from bot.emulator.errors import bad_request, forbidden
from bot.emulator.markup import MAX_CAPTION, MAX_TEXT, format_text, validate_reply_markup
from bot.emulator.state import JSON, Chat, EmulatorState, StoredMessage, UploadedFile

Handler = Callable[[EmulatorState, JSON], Any]
HANDLERS: dict[str, Handler] = {}  # lower-cased method name -> handler
MAX_DOWNLOAD = 20 * 1024 * 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def api_method(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more (case-insensitive) method names."""

    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name.lower()] = handler
        return handler

    return register


def _require(p: JSON, key: str) -> Any:
    if p.get(key) in (None, ""):
        raise bad_request(f"{key} is empty")
    return p[key]


def _chat(state: EmulatorState, p: JSON, *, sending: bool = True) -> Chat:
    chat = state.find_chat(_require(p, "chat_id"))
    if chat is None:
        raise bad_request("chat not found")
    if chat.migrated_to is not None:
        raise bad_request("group chat was upgraded to a supergroup chat",
                          {"migrate_to_chat_id": chat.migrated_to})  # fmt: skip
    if not sending:
        return chat
    if chat.type == "private" and state.users[chat.id].blocked:
        raise forbidden("bot was blocked by the user")
    if chat.type != "private" and chat.bot_status in ("left", "kicked"):
        how = "was kicked from" if chat.bot_status == "kicked" else "is not a member of"
        raise forbidden(f"bot {how} the {chat.type} chat")
    return chat


def _reply_to(state: EmulatorState, chat: Chat, p: JSON) -> JSON | None:
    params = p.get("reply_parameters") or {}
    message_id = params.get("message_id", p.get("reply_to_message_id"))
    if message_id is None:
        return None
    target = state.messages.get((int(params.get("chat_id", chat.id)), int(message_id)))
    if target is None or target.deleted:
        if params.get("allow_sending_without_reply") or p.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return {k: v for k, v in target.data.items() if k != "reply_to_message"}


def _markup(p: JSON) -> tuple[JSON | None, JSON | None]:
    """Split reply_markup into (inline keyboard echoed in Message, other keyboard)."""
    markup = p.get("reply_markup")
    validate_reply_markup(markup)
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup, None
    return None, markup


def _send(state: EmulatorState, chat: Chat, p: JSON, fields: JSON, raw_text: str | None) -> JSON:
    inline, other = _markup(p)
    fields |= {"reply_to_message": _reply_to(state, chat, p), "reply_markup": inline}
    return state.new_message(chat, state.bot, fields, raw_text=raw_text,
                             reply_keyboard=other).data  # fmt: skip


def _editable(state: EmulatorState, p: JSON) -> StoredMessage:
    if p.get("inline_message_id"):
        raise bad_request("inline messages are not supported by the emulator")
    chat = _chat(state, p, sending=False)
    stored = state.messages.get((chat.id, int(_require(p, "message_id"))))
    if stored is None or stored.deleted:
        raise bad_request("message to edit not found")
    if not stored.from_bot:
        raise bad_request("message can't be edited")
    return stored


def _set(data: JSON, key: str, value: Any) -> None:
    if value:
        data[key] = value
    else:
        data.pop(key, None)


@api_method("getMe")
def get_me(state: EmulatorState, p: JSON) -> JSON:
    """Describe the bot."""
    return state.bot.to_dict() | {
        "can_join_groups": True, "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }  # fmt: skip


@api_method("logOut", "close", "setWebhook")
def ok(state: EmulatorState, p: JSON) -> bool:
    """Accept and do nothing."""
    return True


@api_method("deleteWebhook")
def delete_webhook(state: EmulatorState, p: JSON) -> bool:
    """No webhook to delete; honour drop_pending_updates."""
    if p.get("drop_pending_updates") and state.updates:
        state.confirm(state.updates[-1]["update_id"] + 1)
    return True


@api_method("getWebhookInfo")
def get_webhook_info(state: EmulatorState, p: JSON) -> JSON:
    """Report that no webhook is set."""
    return {"url": "", "has_custom_certificate": False, "pending_update_count": len(state.updates)}


@api_method("sendMessage")
def send_message(state: EmulatorState, p: JSON) -> JSON:
    """Send a text message."""
    chat = _chat(state, p)
    raw = str(p.get("text") or "")
    text, entities = format_text(raw, p.get("parse_mode"), p.get("entities"), limit=MAX_TEXT)
    if not text.strip():
        raise bad_request("message text is empty")
    fields = {"text": text, "entities": entities or None,
              "link_preview_options": p.get("link_preview_options")}  # fmt: skip
    return _send(state, chat, p, fields, raw)


@api_method("editMessageText")
def edit_message_text(state: EmulatorState, p: JSON) -> JSON:
    """Edit the text (and inline keyboard) of a bot message."""
    stored = _editable(state, p)
    raw = str(p.get("text") or "")
    text, entities = format_text(raw, p.get("parse_mode"), p.get("entities"), limit=MAX_TEXT)
    if not text.strip():
        raise bad_request("message text is empty")
    if "text" not in stored.data:
        raise bad_request("there is no text in the message to edit")
    inline, _ = _markup(p)
    data = stored.data
    if (text, entities, inline) == (
        data["text"],
        data.get("entities", []),
        data.get("reply_markup"),
    ):
        raise bad_request(NOT_MODIFIED)
    data["text"], stored.raw_text = text, raw
    _set(data, "entities", entities)
    _set(data, "reply_markup", inline)
    data["edit_date"] = int(time.time())
    state.on_change()
    return data


@api_method("editMessageReplyMarkup")
def edit_message_reply_markup(state: EmulatorState, p: JSON) -> JSON:
    """Replace (or remove) the inline keyboard of a bot message."""
    stored = _editable(state, p)
    inline, _ = _markup(p)
    if inline == stored.data.get("reply_markup"):
        raise bad_request(NOT_MODIFIED)
    _set(stored.data, "reply_markup", inline)
    stored.data["edit_date"] = int(time.time())
    state.on_change()
    return stored.data


@api_method("deleteMessage")
def delete_message(state: EmulatorState, p: JSON) -> bool:
    """Delete a message."""
    chat = _chat(state, p, sending=False)
    stored = state.messages.get((chat.id, int(_require(p, "message_id"))))
    if stored is None or stored.deleted:
        raise bad_request("message to delete not found")
    stored.deleted = True
    state.on_change()
    return True


@api_method("answerCallbackQuery")
def answer_callback_query(state: EmulatorState, p: JSON) -> bool:
    """Answer a callback query (only once, as Telegram enforces)."""
    query_id = str(_require(p, "callback_query_id"))
    if query_id not in state.callback_queries or state.callback_queries[query_id] is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    keys = ("text", "show_alert", "url", "cache_time")
    state.callback_queries[query_id] = {k: p[k] for k in keys if k in p}
    state.on_change()
    return True


def _commands_key(p: JSON) -> tuple[str, str]:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), p.get("language_code") or ""


@api_method("setMyCommands")
def set_my_commands(state: EmulatorState, p: JSON) -> bool:
    """Store the command list for a scope/language."""
    commands = _require(p, "commands")
    for command in commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
    state.commands[_commands_key(p)] = commands
    return True


@api_method("getMyCommands")
def get_my_commands(state: EmulatorState, p: JSON) -> list[JSON]:
    """Return the command list for a scope/language."""
    return state.commands.get(_commands_key(p), [])


@api_method("deleteMyCommands")
def delete_my_commands(state: EmulatorState, p: JSON) -> bool:
    """Remove the command list for a scope/language."""
    state.commands.pop(_commands_key(p), None)
    return True


def _input_file(state: EmulatorState, p: JSON, field: str) -> UploadedFile:
    """Resolve an uploaded file or a previously seen file_id."""
    value = p.get(field)
    if value in (None, ""):
        raise bad_request(f"there is no {field} in the request")
    if isinstance(value, UploadedFile):
        return value
    known = state.files.get(str(value))
    if known is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return UploadedFile(known.file_name, known.mime_type, known.data)


def _caption(p: JSON) -> tuple[JSON, str | None]:
    raw = p.get("caption")
    if not raw:
        return {}, None
    text, entities = format_text(str(raw), p.get("parse_mode"), p.get("caption_entities"),
                                 limit=MAX_CAPTION)  # fmt: skip
    return {"caption": text, "caption_entities": entities or None}, str(raw)


@api_method("sendDocument")
def send_document(state: EmulatorState, p: JSON) -> JSON:
    """Send a document (upload or file_id)."""
    chat = _chat(state, p)
    upload = _input_file(state, p, "document")
    doc = state.store_file(upload.data, "documents", upload.file_name, upload.mime_type)
    caption, raw = _caption(p)
    fields = {"document": doc.to_dict("file_name", "mime_type")} | caption
    return _send(state, chat, p, fields, raw)


@api_method("sendPhoto")
def send_photo(state: EmulatorState, p: JSON) -> JSON:
    """Send a photo (upload or file_id)."""
    chat = _chat(state, p)
    upload = _input_file(state, p, "photo")
    caption, raw = _caption(p)
    return _send(state, chat, p, {"photo": state.photo_sizes(upload.data)} | caption, raw)


@api_method("getFile")
def get_file(state: EmulatorState, p: JSON) -> JSON:
    """Describe a file and its download path."""
    stored = state.files.get(str(_require(p, "file_id")))
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return stored.to_dict("file_path")


@api_method("getChat")
def get_chat(state: EmulatorState, p: JSON) -> JSON:
    """Return a basic ChatFullInfo."""
    gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts",
                           "premium_subscription", "gifts_from_channels"), False)  # fmt: skip
    return _chat(state, p, sending=False).to_dict() | {
        "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts,
    }  # fmt: skip


@api_method("sendChatAction")
def send_chat_action(state: EmulatorState, p: JSON) -> bool:
    """Accept a chat action (typing, upload_document, ...)."""
    _chat(state, p)
    _require(p, "action")
    return True
