"""Transitional alias of `bot.callbacks.legacy` (flows move to typed payload classes)."""

from bot.callbacks.legacy import MAX_BYTES, CallbackData, Prefix, build, parse, pattern

__all__ = ["MAX_BYTES", "CallbackData", "Prefix", "build", "parse", "pattern"]
