"""In-memory world of the emulator: users, chats, messages, files and the update queue."""

from __future__ import annotations

import itertools
import json
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


def clone(value: Any) -> Any:
    """A deep copy of JSON data, several times faster than copy.deepcopy."""
    return json.loads(json.dumps(value))


def _compact(data: JSON) -> JSON:
    return {k: v for k, v in data.items() if v is not None}


@dataclass
class User:
    """A Telegram user (or the bot itself)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    blocked: bool = False  # the user blocked the bot

    def to_dict(self) -> JSON:
        """Telegram ``User`` object."""
        return _compact({
            "id": self.id, "is_bot": self.is_bot, "first_name": self.first_name,
            "last_name": self.last_name, "username": self.username,
            "language_code": self.language_code,
        })  # fmt: skip


@dataclass
class Chat:
    """A private chat, group or supergroup."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bot_status: str = "member"  # the bot's ChatMember status in this chat
    migrated_to: int | None = None

    def to_dict(self) -> JSON:
        """Telegram ``Chat`` object."""
        return _compact({
            "id": self.id, "type": self.type, "title": self.title, "username": self.username,
            "first_name": self.first_name, "last_name": self.last_name,
        })  # fmt: skip


@dataclass
class UploadedFile:
    """A file part received in a multipart request."""

    file_name: str | None
    mime_type: str | None
    data: bytes


@dataclass
class StoredFile:
    """A file known to the emulator, downloadable by its file_path."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def to_dict(self, *extra: str) -> JSON:
        """Base file object (file_id, file_unique_id, file_size) plus ``extra`` attributes."""
        base = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": len(self.data)}  # fmt: skip
        return base | _compact({key: getattr(self, key) for key in extra})


@dataclass
class StoredMessage:
    """A message in a chat with its current state and emulator-only metadata."""

    data: JSON
    from_bot: bool
    raw_text: str | None = None
    reply_keyboard: JSON | None = None  # non-inline reply_markup as sent
    deleted: bool = False

    @property
    def plain_text(self) -> str:
        """What a human sees: text or caption, formatting stripped."""
        return self.data.get("text") or self.data.get("caption") or ""

    def snapshot(self) -> JSON:
        """Copy of the Telegram Message plus ``raw_text`` (and ``reply_keyboard`` if sent)."""
        result = clone(self.data) | {"raw_text": self.raw_text}
        if self.reply_keyboard is not None:
            result["reply_keyboard"] = clone(self.reply_keyboard)
        return result


def message_key(message: Any) -> tuple[int, int]:
    """(chat_id, message_id) of a Message dict, StoredMessage or telegram.Message."""
    if isinstance(message, StoredMessage):
        message = message.data
    if isinstance(message, dict):
        return message["chat"]["id"], message["message_id"]
    return message.chat_id, message.message_id


class EmulatorState:
    """All emulator data; calls ``on_change`` whenever something observable changes."""

    def __init__(
        self, bot: User, on_change: Callable[[], None] = lambda: None, first_update_id: int = 1
    ) -> None:
        self.bot = bot
        self.on_change = on_change
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.bot_log: dict[int, list[StoredMessage]] = {}
        self.updates: list[JSON] = []
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.callback_queries: dict[str, JSON | None] = {}  # id -> answer (None = unanswered)
        self._last_message_id: dict[int, int] = {}
        self._update_ids = itertools.count(first_update_id)
        self._file_ids = itertools.count(1)

    # -- registry --------------------------------------------------------------

    def add_user(self, user: User) -> User:
        """Register a user and its private chat with the bot."""
        self.users[user.id] = user
        names = {"first_name": user.first_name, "last_name": user.last_name}
        self.chats[user.id] = Chat(user.id, "private", username=user.username, **names)
        return user

    def add_chat(self, chat: Chat) -> Chat:
        """Register a group/supergroup chat."""
        self.chats[chat.id] = chat
        return chat

    def user(self, ref: User | int) -> User:
        """Resolve a User or user id."""
        return self.users[ref.id if isinstance(ref, User) else ref]

    def chat(self, ref: Chat | User | int | None, default: User | None = None) -> Chat:
        """Resolve a Chat/id; ``None`` means the private chat of ``default``."""
        if ref is None:
            assert default is not None
            ref = default.id
        return self.chats[ref if isinstance(ref, int) else ref.id]

    def find_chat(self, chat_id: int | str) -> Chat | None:
        """Look a chat up by id or ``@username``."""
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return next((c for c in self.chats.values() if c.username == chat_id[1:]), None)
        try:
            return self.chats.get(int(chat_id))
        except ValueError:
            return None

    # -- files -------------------------------------------------------------------

    def store_file(
        self, data: bytes, kind: str, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        """Register bytes under a fresh file_id and file_path."""
        n = next(self._file_ids)
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        suffix = mimetypes.guess_extension(mime_type or "") or ""
        stored = StoredFile(f"{kind}-{n}", f"uniq-{n}", f"{kind}/file_{n}{suffix}", data,
                            file_name, mime_type)  # fmt: skip
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, file_path: str) -> StoredFile | None:
        """Find a stored file by its download path."""
        return next((f for f in self.files.values() if f.file_path == file_path), None)

    def photo_sizes(self, data: bytes) -> list[JSON]:
        """Store a photo in three sizes and return the PhotoSize list."""
        sizes = [(90, 67), (320, 240), (800, 600)]
        return [self.store_file(data, "photos", mime_type="image/jpeg").to_dict()
                | {"width": w, "height": h} for w, h in sizes]  # fmt: skip

    # -- messages ------------------------------------------------------------------

    def new_message(
        self,
        chat: Chat,
        sender: User,
        fields: JSON,
        *,
        raw_text: str | None = None,
        reply_keyboard: JSON | None = None,
    ) -> StoredMessage:
        """Create and store a message with the next message_id of ``chat``."""
        message_id = self._last_message_id.get(chat.id, 0) + 1
        self._last_message_id[chat.id] = message_id
        data = {"message_id": message_id, "from": sender.to_dict(), "chat": chat.to_dict(),
                "date": int(time.time())} | _compact(fields)  # fmt: skip
        stored = StoredMessage(data, sender.is_bot, raw_text, reply_keyboard)
        self.messages[(chat.id, message_id)] = stored
        if sender.is_bot:
            self.bot_log.setdefault(chat.id, []).append(stored)
        self.on_change()
        return stored

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """Bot messages of a chat in sending order."""
        log = self.bot_log.get(chat_id, [])
        return log if include_deleted else [m for m in log if not m.deleted]

    # -- update queue ----------------------------------------------------------------

    def enqueue(self, kind: str, payload: JSON) -> JSON:
        """Append an update of ``kind`` (message, callback_query, ...) to the queue."""
        update = {"update_id": next(self._update_ids), kind: clone(payload)}
        self.updates.append(update)
        self.on_change()
        return update

    def confirm(self, offset: int) -> None:
        """Forget every update whose id is below ``offset`` (getUpdates confirmation)."""
        before = len(self.updates)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if len(self.updates) != before:
            self.on_change()
