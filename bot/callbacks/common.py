"""Payloads of the shared menus."""

from __future__ import annotations

from dataclasses import dataclass

from bot.callbacks import Payload


@dataclass(frozen=True)
class LanguagePick(Payload, prefix="lang"):
    """A language button of /ngonngu."""

    code: str
