"""thidua-bot: a Telegram bot for a Vietnamese emulation bloc (khối thi đua)."""

__version__ = "0.1.0"

import os as _os

# Opt in now to python-telegram-bot's coming behaviour (durations as timedelta), instead of a
# deprecation warning each time Telegram answers 429; bot.ratelimit reads either form.
_os.environ.setdefault("PTB_TIMEDELTA", "1")
