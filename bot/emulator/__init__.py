"""Fake Telegram Bot API server for end-to-end tests of the bot over real HTTP."""

from bot.emulator.errors import ApiError
from bot.emulator.faults import Drop, Fault, FaultPlan, RandomFaults
from bot.emulator.limits import RateLimits
from bot.emulator.server import ApiCall, BotApiEmulator
from bot.emulator.state import Chat, EmulatorState, StoredFile, StoredMessage, UploadedFile, User

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "Chat",
    "Drop",
    "EmulatorState",
    "Fault",
    "FaultPlan",
    "RandomFaults",
    "RateLimits",
    "StoredFile",
    "StoredMessage",
    "UploadedFile",
    "User",
]
