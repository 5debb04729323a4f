"""thidua-bot: a Telegram bot for a Vietnamese emulation bloc (khối thi đua)."""

__version__ = "0.1.0"

import os as _os

# Opt in now to python-telegram-bot's coming behaviour (durations as timedelta), instead of a
# deprecation warning each time Telegram answers 429; bot.ratelimit reads either form.
_os.environ.setdefault("PTB_TIMEDELTA", "1")


def _leave_httpx_cli_unloaded() -> None:
    """httpx's package imports its command-line client (`httpx._main`, which loads click, rich
    and pygments, about 6 MB) whenever those happen to be installed, as they are next to the
    dev tools. The bot never runs httpx's CLI: a stand-in takes its place and imports the real
    one only if `httpx.main()` is ever called."""
    import sys
    import types

    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main", "stand-in for httpx's CLI (see bot/__init__.py)")

    def main(*args: object, **kwargs: object) -> object:
        del sys.modules["httpx._main"]
        from httpx._main import main as real_main

        return real_main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in


def _remember_that_sniffio_is_missing() -> None:
    """httpcore imports `sniffio` inside the function it calls twice per HTTP request, and
    when sniffio is not installed each of those failed imports searches the whole sys.path
    again (about 50 us each). Recording the absence once makes the import fail at once,
    with the same ModuleNotFoundError, so httpcore and anyio take the same asyncio path."""
    import importlib.util
    import sys

    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_leave_httpx_cli_unloaded()
_remember_that_sniffio_is_missing()
