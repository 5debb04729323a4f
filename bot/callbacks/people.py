"""Payloads of the membership tools: /moi (invites), /thuhoi (revoking) and the cancel button.

The prefixes are those of the buttons already sent ("inv", "invp", "rev", "revp", "revok",
"cancel"), so a menu opened before an upgrade keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.callbacks import Payload


@dataclass(frozen=True)
class InviteUnit(Payload, prefix="inv"):
    """A unit of the /moi picker: create an invite for it."""

    unit_id: int


@dataclass(frozen=True)
class InvitePage(Payload, prefix="invp"):
    """A page of the /moi picker."""

    page: int


@dataclass(frozen=True)
class RevokePick(Payload, prefix="rev"):
    """A contact of the /thuhoi picker: ask to confirm revoking them."""

    contact_id: int


@dataclass(frozen=True)
class RevokePage(Payload, prefix="revp"):
    """A page of the /thuhoi picker."""

    page: int


@dataclass(frozen=True)
class RevokeConfirm(Payload, prefix="revok"):
    """«Thu hồi» on the confirmation: revoke the contact."""

    contact_id: int


@dataclass(frozen=True)
class Cancel(Payload, prefix="cancel"):
    """«Hủy» under a menu: close it."""
