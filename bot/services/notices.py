"""Messages to people other than the one who acted (admins, a unit's contacts), in each
recipient's own language, written into the caller's unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bot.services.work import Outgoing, Work
from storage import reminders as roster
from storage.outbox import Priority

if TYPE_CHECKING:
    from bot.context import Services

Markup = Callable[[str], dict[str, Any] | None]


async def languages(work: Work, services: Services, user_ids: Iterable[int]) -> dict[int, str]:
    """Each user's chosen language, or the bloc's."""
    ids = list(dict.fromkeys(user_ids))
    chosen = await roster.languages(session=work.session, user_ids=ids)
    default = services.config.bloc.language
    return {user_id: chosen.get(user_id, default) for user_id in ids}


async def to_users(
    work: Work,
    services: Services,
    user_ids: Iterable[int],
    key: str,
    /,
    *,
    markup: Markup | None = None,
    source: str = "notice",
    priority: int = Priority.NOTICE,
    **values: Any,
) -> int:
    """Queues catalogue message `key` to each user in their language; a value (and the
    markup) may be a function of the language. Returns how many were queued."""
    spoken = await languages(work, services, user_ids)
    for user_id, language in spoken.items():
        resolved = {k: v(language) if callable(v) else v for k, v in values.items()}
        work.send(
            Outgoing(
                chat_id=user_id,
                text=services.translator(language, key, **resolved),
                markup=markup(language) if markup is not None else None,
                priority=priority,
                source=source,
            )
        )
    return len(spoken)


async def to_admins(
    work: Work,
    services: Services,
    key: str,
    /,
    *,
    exclude: int | None = None,
    markup: Markup | None = None,
    **values: Any,
) -> int:
    """Queues a notice to every admin (but `exclude`, who already sees the reply)."""
    admins = [a for a in services.config.bloc.admins if a != exclude]
    return await to_users(
        work, services, admins, key, markup=markup, source="admin-notice", **values
    )
