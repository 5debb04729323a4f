"""What simulated users do: each action enqueues the update Telegram would deliver."""

from __future__ import annotations

import time
from typing import Any

from bot.emulator.markup import command_entities, iter_buttons
from bot.emulator.state import JSON, Chat, EmulatorState, StoredMessage, User, message_key

ChatRef = Chat | User | int
UserRef = User | int
_ADMIN_RIGHTS = (
    "can_be_edited", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip


class UserActions:
    """Mixin for BotApiEmulator: register users/chats and act as them (synchronously)."""

    state: EmulatorState

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> User:
        """Register a user who has a private chat with the bot."""
        return self.state.add_user(User(user_id, first_name, last_name, username, language_code))

    def add_group(
        self, chat_id: int, title: str, *, supergroup: bool = False, username: str | None = None
    ) -> Chat:
        """Register a group (or supergroup) the bot is a member of."""
        kind = "supergroup" if supergroup else "group"
        return self.state.add_chat(Chat(chat_id, kind, title=title, username=username))

    def block_bot(self, user: UserRef) -> None:
        """The user blocks the bot: later sends to them fail with 403."""
        self.state.user(user).blocked = True

    def unblock_bot(self, user: UserRef) -> None:
        """The user unblocks the bot."""
        self.state.user(user).blocked = False

    # -- messages ------------------------------------------------------------------------

    def _post(self, user: UserRef, chat: ChatRef | None, fields: JSON) -> JSON:
        """Store a user message (private chat unless ``chat``) and enqueue it."""
        sender = self.state.user(user)
        target = self.state.chat(chat, default=sender)
        return self.state.enqueue("message", self.state.new_message(target, sender, fields).data)

    def send_text(self, user: UserRef, text: str, chat: ChatRef | None = None) -> JSON:
        """User sends ``text``; a leading /command gets a bot_command entity."""
        return self._post(user, chat, {"text": text, "entities": command_entities(text) or None})

    def send_document(
        self,
        user: UserRef,
        file_name: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: ChatRef | None = None,
    ) -> JSON:
        """User sends a document; its bytes become downloadable via getFile."""
        doc = self.state.store_file(data, "documents", file_name, mime_type)
        fields = {"document": doc.to_dict("file_name", "mime_type"), "caption": caption}
        return self._post(user, chat, fields)

    def send_photo(
        self, user: UserRef, data: bytes, *, caption: str | None = None, chat: ChatRef | None = None
    ) -> JSON:
        """User sends a photo (three PhotoSize entries)."""
        return self._post(user, chat, {"photo": self.state.photo_sizes(data), "caption": caption})

    def send_sticker(
        self, user: UserRef, *, emoji: str = "👍", chat: ChatRef | None = None
    ) -> JSON:
        """User sends a regular static sticker."""
        sticker = self.state.store_file(b"RIFF-webp", "stickers", mime_type="image/webp").to_dict()
        sticker |= {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                    "is_video": False, "emoji": emoji}  # fmt: skip
        return self._post(user, chat, {"sticker": sticker})

    def send_voice(
        self, user: UserRef, data: bytes = b"OggS", *, duration: int = 1,
        chat: ChatRef | None = None,
    ) -> JSON:  # fmt: skip
        """User sends a voice note."""
        voice = self.state.store_file(data, "voice", mime_type="audio/ogg").to_dict("mime_type")
        return self._post(user, chat, {"voice": voice | {"duration": duration}})

    # -- buttons -------------------------------------------------------------------------

    def _bot_message(self, message: Any) -> StoredMessage:
        stored = self.state.messages.get(message_key(message))
        if stored is None or stored.deleted:
            raise LookupError(f"message {message_key(message)} does not exist (deleted?)")
        return stored

    def press_button(
        self, user: UserRef, message: Any, callback_data: str, *, check: bool = True
    ) -> JSON:
        """Press the inline button with ``callback_data`` on a bot message (dict or Message).

        ``check=False`` presses a button the message no longer shows (a stale client, or a
        keyboard from an older version of the bot).
        """
        stored = self._bot_message(message)
        buttons = iter_buttons(stored.data)
        if check and not any(b.get("callback_data") == callback_data for b in buttons):
            raise LookupError(f"no button with callback_data={callback_data!r}; buttons: {buttons}")
        query_id = str(len(self.state.callback_queries) + 1)
        self.state.callback_queries[query_id] = None
        chat_id = stored.data["chat"]["id"]
        return self.state.enqueue("callback_query", {
            "id": query_id, "from": self.state.user(user).to_dict(), "message": stored.data,
            "chat_instance": str(abs(chat_id) * 7919), "data": callback_data,
        })  # fmt: skip

    def press_button_text(self, user: UserRef, message: Any, text: str) -> JSON:
        """Press the inline callback button labelled exactly ``text``."""
        buttons = iter_buttons(self._bot_message(message).data)
        for button in buttons:
            if button.get("text") == text and "callback_data" in button:
                return self.press_button(user, message, button["callback_data"])
        labels = [b.get("text") for b in buttons]
        raise LookupError(f"no callback button labelled {text!r}; labels: {labels}")

    # -- membership and migration ---------------------------------------------------------

    def _actor(self, by: UserRef | None) -> User:
        if by is not None:
            return self.state.user(by)
        if not self.state.users:
            raise LookupError("add a user first: service updates need a sender")
        return next(iter(self.state.users.values()))

    def _member(self, status: str) -> JSON:
        member: JSON = {"status": status, "user": self.state.bot.to_dict()}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            member |= dict.fromkeys(_ADMIN_RIGHTS, True) | {"is_anonymous": False}
        return member

    def add_member_update(
        self, chat: ChatRef, *, by: UserRef | None = None, old_status: str = "left",
        new_status: str = "member",
    ) -> JSON:  # fmt: skip
        """Change the bot's status in ``chat`` and enqueue a ``my_chat_member`` update."""
        target = self.state.chat(chat)
        target.bot_status = new_status
        return self.state.enqueue("my_chat_member", {
            "chat": target.to_dict(), "from": self._actor(by).to_dict(), "date": int(time.time()),
            "old_chat_member": self._member(old_status),
            "new_chat_member": self._member(new_status),
        })  # fmt: skip

    def remove_bot_from_group(self, chat: ChatRef, *, by: UserRef | None = None) -> JSON:
        """Kick the bot (supergroup: "kicked", group: "left"); later sends get 403."""
        target = self.state.chat(chat)
        new_status = "kicked" if target.type == "supergroup" else "left"
        return self.add_member_update(target, by=by, old_status=target.bot_status,
                                      new_status=new_status)  # fmt: skip

    def migrate_group(self, chat: ChatRef, new_id: int, *, by: UserRef | None = None) -> Chat:
        """Upgrade a group to supergroup ``new_id`` (service messages in both chats)."""
        old = self.state.chat(chat)
        new = self.state.add_chat(Chat(new_id, "supergroup", title=old.title))
        self._post(self._actor(by), old, {"migrate_to_chat_id": new_id})
        self._post(self._actor(by), new, {"migrate_from_chat_id": old.id})
        old.migrated_to = new_id
        return new
