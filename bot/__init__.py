"""thidua-bot: a Telegram bot for a Vietnamese emulation bloc (khối thi đua)."""

__version__ = "0.1.0"
