"""Who is acting: admin, contact or stranger (no Telegram here, so services can re-check)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.models import Contact, Unit


class Role(StrEnum):
    """What a Telegram account may do here."""

    ADMIN = "admin"
    CONTACT = "contact"
    STRANGER = "stranger"


@dataclass(frozen=True)
class Caller:
    """The account behind an update, with its role, unit and language."""

    user_id: int
    full_name: str
    username: str | None
    role: Role
    language: str
    contact: Contact | None = None
    unit: Unit | None = None

    @property
    def is_admin(self) -> bool:
        """Admins may do everything."""
        return self.role is Role.ADMIN

    @property
    def is_registered(self) -> bool:
        """Admins and contacts."""
        return self.role is not Role.STRANGER
