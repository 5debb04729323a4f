"""The `thidua` console command: init, invite, run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from telegram import Bot
from telegram.helpers import create_deep_linked_url

from bot.app import make_services
from bot.config import Config, load_config
from bot.errors import ConfigError, MissingTokenError, ThiduaError
from bot.i18n import default_translator, format_datetime
from bot.logs import setup_logging
from bot.questions import PeriodKind
from bot.request import make_request
from bot.runner import prepare_database, serve
from bot.services import contacts, events
from bot.services import periods as period_rules
from bot.services.errors import ServiceError
from storage import bloc, inbox, periods, settings
from storage import events as event_store
from storage.db import Database
from storage.models import utcnow

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_NO_TOKEN = 0, 1, 2, 3
log = logging.getLogger("thidua")


def _say(language: str, key: str, **kwargs: object) -> str:
    return default_translator().plain(language, key, **kwargs)


def _language(config: Config | None = None) -> str:
    return os.environ.get("THIDUA_LANG") or (config.bloc.language if config else "vi")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="thidua", description="thidua-bot: Telegram bot for an emulation bloc (khối thi đua)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, help_text: str, parent: Any = sub, options: bool = True
    ) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = parent.add_parser(
            name, help=help_text, description=help_text
        )
        if options:
            cmd.add_argument("--config", required=True, metavar="FILE", help="path to config.toml")
            cmd.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
        return cmd

    add(
        "init",
        "Create or upgrade the database schema and load the bloc, departments and "
        "units from the config. Safe to run again after editing the units.",
    )
    invite = add(
        "invite",
        "Print a one-time invite link for a unit's contact person; the "
        "token alone is on the last line.",
    )
    invite.add_argument("unit_code", metavar="UNIT_CODE", help="the unit's code in the config")
    invite.add_argument("--days", type=int, default=None, help="days until the link expires")
    add("run", "Run the bot (long polling by default, or webhook as configured).")
    period = add("period", "Manage report periods (kỳ báo cáo).", options=False)
    period_sub = period.add_subparsers(dest="period_command", required=True, metavar="ACTION")
    period_add = add(
        "add",
        "Open a report period. Dates as dd/mm[/yyyy] [HH:MM] in the bloc's time zone.",
        parent=period_sub,
    )
    period_add.add_argument("--kind", required=True, choices=[k.value for k in PeriodKind])
    period_add.add_argument("--title", default=None, help="default: the usual title")
    period_add.add_argument("--opens", default=None, help="default: now")
    period_add.add_argument("--deadline", required=True, help="e.g. 15/6/2023 17:00")
    add("list", "List report periods.", parent=period_sub)
    _add_event_parser(sub, add)
    inbox_cmd = add("inbox", "Updates the bot failed to handle or gave up on.", options=False)
    inbox_sub = inbox_cmd.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    inbox_list = add("list", "List updates handled with an error or given up.", parent=inbox_sub)
    inbox_list.add_argument(
        "--failed", action="store_true", help="only failed and given-up updates (the default)"
    )
    inbox_retry = add(
        "retry",
        "Make a failed or given-up update pending again: the bot handles it at its next start.",
        parent=inbox_sub,
    )
    inbox_retry.add_argument("update_id", type=int, metavar="UPDATE_ID")
    return parser


def _add_event_parser(sub: Any, add: Any) -> None:
    """`thidua event add|list`: bloc events (giao lưu, học tập kinh nghiệm)."""
    event = add("event", "Manage bloc events (giao lưu, học tập kinh nghiệm).", options=False)
    event_sub = event.add_subparsers(dest="event_command", required=True, metavar="ACTION")
    event_add = add(
        "add",
        "Create an event and announce it to every unit's contacts (the running bot sends "
        "the announcements). Dates as dd/mm[/yyyy] [HH:MM] in the bloc's time zone.",
        parent=event_sub,
    )
    event_add.add_argument("--kind", required=True, choices=[k.value for k in events.EventKind])
    event_add.add_argument("--title", required=True)
    event_add.add_argument("--starts", required=True, help="e.g. 20/10/2023 07:30")
    event_add.add_argument("--place", required=True)
    event_add.add_argument("--registration-deadline", required=True, help="e.g. 15/10/2023 17:00")
    event_add.add_argument("--description", default="")
    event_add.add_argument(
        "--disciplines",
        default=None,
        help='sports only, comma-separated; default "'
        + ", ".join(events.DEFAULT_DISCIPLINES)
        + '"',
    )
    add("list", "List events.", parent=event_sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `thidua` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(_say(_language(), "cli.config_error", details=str(exc)), file=sys.stderr)
        return EXIT_CONFIG
    language = _language(config)
    token = config.telegram.token.strip()
    setup_logging(args.log_level, secrets=[token])
    try:
        if args.command == "init":
            return asyncio.run(_init(config, language))
        if args.command == "invite":
            return asyncio.run(_invite(config, language, args.unit_code, args.days))
        if args.command == "period":
            return asyncio.run(_period(config, language, args))
        if args.command == "event":
            return asyncio.run(_event(config, language, args))
        if args.command == "inbox":
            return asyncio.run(_inbox(config, language, args))
        config.require_token()
        return _run(config)
    except MissingTokenError:
        print(_say(language, "cli.no_token", path=args.config), file=sys.stderr)
        return EXIT_NO_TOKEN
    except ThiduaError as exc:
        print(_say(language, "cli.failed", details=str(exc)), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        print(_say(language, "cli.failed", details=f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_ERROR


async def _init(config: Config, language: str) -> int:
    db = Database(config.database.url)
    try:
        report = await prepare_database(config, db)
        async with db.session() as session:
            units = await bloc.list_units(session=session)
    finally:
        await db.dispose()
    print(_say(language, "cli.init_done", units=len(units), url=_safe_url(config)))
    for key in ("added", "renamed", "moved", "retired", "restored"):
        codes = getattr(report, key)
        if codes:
            print(_say(language, f"cli.init_{key}", codes=", ".join(codes)))
    return EXIT_OK


async def _invite(config: Config, language: str, unit_code: str, days: int | None) -> int:
    db = Database(config.database.url)
    try:
        if not await db.is_current():
            print(_say(language, "cli.not_initialised"), file=sys.stderr)
            return EXIT_CONFIG
        username = await _bot_username(config, db)
        if not username:
            print(_say(language, "cli.no_username"), file=sys.stderr)
            return EXIT_CONFIG
        try:
            issued = await contacts.console_invite(
                make_services(config, db), unit_code=unit_code, days=days
            )
        except ServiceError as refusal:
            print(_say(language, refusal.key, **refusal.details), file=sys.stderr)
            return EXIT_CONFIG
    finally:
        await db.dispose()
    expires = format_datetime(issued.expires_at, config.bloc.tz, language)
    print(_say(language, "cli.invite_for", unit=issued.unit.name, expires=expires))
    print(create_deep_linked_url(username, issued.token))
    print(issued.token)
    return EXIT_OK


async def _inbox(config: Config, language: str, args: argparse.Namespace) -> int:
    """`thidua inbox list --failed` / `thidua inbox retry UPDATE_ID`. The list shows where an
    update came from and why it failed, never what it says."""
    db = Database(config.database.url)
    try:
        if not await db.is_current():
            print(_say(language, "cli.not_initialised"), file=sys.stderr)
            return EXIT_CONFIG
        if args.inbox_command == "retry":
            async with db.session() as session:
                found = await inbox.retry(session=session, update_id=args.update_id)
            if not found:
                print(_say(language, "cli.inbox_not_failed", id=args.update_id), file=sys.stderr)
                return EXIT_CONFIG
            print(_say(language, "cli.inbox_retried", id=args.update_id))
            return EXIT_OK
        async with db.read() as session:
            rows = await inbox.failed(session=session)
    finally:
        await db.dispose()
    if not rows:
        print(_say(language, "cli.inbox_none_failed"))
    for row in rows:
        received = format_datetime(row.received_at, config.bloc.tz, language)
        print(f"{row.update_id}\t{received}\t{_origin(row.payload)}\t{row.attempts}\t{row.error}")
    return EXIT_OK


def _origin(payload: dict[str, Any]) -> str:
    """ "message chat 42" or "callback_query user 7": the kind of an update and whose it is."""
    for kind, value in payload.items():
        if isinstance(value, dict) and kind != "update_id":
            chat = value.get("chat") or (value.get("message") or {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return f"{kind} chat {chat['id']}"
            sender = value.get("from")
            if isinstance(sender, dict) and "id" in sender:
                return f"{kind} user {sender['id']}"
            return kind
    return "-"


async def _bot_username(config: Config, db: Database) -> str:
    """Asks the Bot API (getMe), else uses what the last run learnt, else the config."""
    token = config.telegram.token.strip()
    if token:
        try:
            config.require_token()
            request = make_request(config.telegram.http_client, connection_pool_size=1)
            bot = Bot(
                token,
                base_url=f"{config.telegram.base_url}/bot",
                request=request,
                get_updates_request=request,
            )
            async with bot:
                if bot.username:
                    return bot.username
        except Exception as exc:
            log.warning("getMe failed (%s); using the stored bot username", type(exc).__name__)
    async with db.session() as session:
        stored = await settings.get_value(session=session, key="bot_username")
    return stored or config.telegram.username


async def _period(config: Config, language: str, args: argparse.Namespace) -> int:
    db = Database(config.database.url)
    try:
        if not await db.is_current():
            print(_say(language, "cli.not_initialised"), file=sys.stderr)
            return EXIT_CONFIG
        now = utcnow()
        if args.period_command == "list":
            async with db.session() as session:
                found = await periods.list_periods(session=session, limit=100)
            for period in found:
                status = _say(language, f"period.status_{periods.status_of(period, now).value}")
                deadline = format_datetime(period.deadline_at, config.bloc.tz, language)
                print(f"{period.id}\t{period.kind}\t{deadline}\t{status}\t{period.title}")
            return EXIT_OK
        title = args.title or period_rules.default_title(
            args.kind, config.bloc.year, language, default_translator().plain
        )
        try:
            request = period_rules.validate(
                args.kind,
                title,
                period_rules.parse_opening(args.opens, config, now),
                period_rules.parse_deadline(args.deadline, config, now),
                now,
            )
        except period_rules.PeriodError as exc:
            print(_say(language, exc.key), file=sys.stderr)
            return EXIT_CONFIG
        async with db.session() as session:
            period = await period_rules.insert(session, config, request, created_by=None)
    finally:
        await db.dispose()
    print(
        _say(
            language,
            "cli.period_created",
            id=period.id,
            title=period.title,
            deadline=format_datetime(period.deadline_at, config.bloc.tz, language),
        )
    )
    return EXIT_OK


async def _event(config: Config, language: str, args: argparse.Namespace) -> int:
    services = make_services(config)
    try:
        if not await services.db.is_current():
            print(_say(language, "cli.not_initialised"), file=sys.stderr)
            return EXIT_CONFIG
        if args.event_command == "list":
            await _list_events(services, language)
            return EXIT_OK
        try:
            created = await events.create(  # None: the operator at the console
                services, actor=None, draft=_event_request(services, args)
            )
            event, count = created.event, created.queued
        except events.EventError as exc:
            print(_say(language, exc.key, **exc.details), file=sys.stderr)
            return EXIT_CONFIG
    finally:
        await services.db.dispose()
    starts = format_datetime(event.starts_at, config.bloc.tz, language)
    print(
        _say(
            language,
            "event.cli_created",
            id=event.id,
            title=event.title,
            starts=starts,
            count=count,
        )
    )
    return EXIT_OK


def _event_request(services: Any, args: argparse.Namespace) -> events.EventRequest:
    """The console arguments as a validated event (EventError if they do not fit)."""
    now = services.clock()
    disciplines: tuple[str, ...] = ()
    if args.kind == events.EventKind.SPORTS:
        disciplines = (
            events.parse_disciplines(args.disciplines)
            if args.disciplines
            else events.DEFAULT_DISCIPLINES
        )
    return events.validate(
        kind=args.kind,
        title=args.title,
        starts_at=events.parse_start(args.starts, services, now),
        place=args.place,
        description=args.description,
        registration_deadline=events.parse_deadline(args.registration_deadline, services, now),
        disciplines=disciplines,
        now=now,
    )


async def _list_events(services: Any, language: str) -> None:
    now = services.clock()
    async with services.db.read() as session:
        found = await event_store.list_events(session=session)
    for event in found:
        if event.cancelled_at is not None:
            status = "cancelled"
        else:
            status = "upcoming" if event.starts_at > now else "past"
        starts = format_datetime(event.starts_at, services.config.bloc.tz, language)
        label = _say(language, f"event.cli_status_{status}")
        print(f"{event.id}\t{event.kind}\t{starts}\t{label}\t{event.title}")


def _run(config: Config) -> int:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop=stop, services=make_services(config))

    asyncio.run(runner())
    return EXIT_OK


def _safe_url(config: Config) -> str:
    """The database URL without any password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(config.database.url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
