"""The exceptions thidua-bot raises on purpose.

Each carries a message meant for the person who can fix the problem (an IT officer at a
console), so the CLI prints it without a traceback.
"""


class ThiduaError(Exception):
    """Base of every deliberate error."""


class ConfigError(ThiduaError):
    """The configuration file is missing, unreadable or invalid."""


class MissingTokenError(ConfigError):
    """No bot token was configured."""


class StorageError(ThiduaError):
    """The database cannot be reached or is in an unexpected state."""
