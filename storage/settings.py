"""Per-user preferences and small key-value facts."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import KeyValue, UserSetting, utcnow


async def get_language(*, session: AsyncSession, telegram_user_id: int) -> str | None:
    """The language the user chose, or None if they never chose."""
    setting = await session.get(UserSetting, telegram_user_id)
    return setting.language if setting else None


async def set_language(*, session: AsyncSession, telegram_user_id: int, language: str) -> None:
    """Stores the user's language."""
    setting = await session.get(UserSetting, telegram_user_id)
    if setting is None:
        session.add(UserSetting(telegram_user_id=telegram_user_id, language=language))
    else:
        setting.language, setting.updated_at = language, utcnow()
        session.add(setting)


async def get_value(*, session: AsyncSession, key: str) -> str | None:
    """A stored fact, or None."""
    row = (await session.exec(select(KeyValue).where(KeyValue.key == key))).first()
    return row.value if row else None


async def set_value(*, session: AsyncSession, key: str, value: str) -> None:
    """Stores a fact, replacing any earlier value."""
    row = await session.get(KeyValue, key)
    if row is None:
        session.add(KeyValue(key=key, value=value))
    else:
        row.value = value
        session.add(row)
