"""Why a service refused: each carries the catalogue key that explains it to the person."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal that changed nothing; `key` is the catalogue message that explains it."""

    def __init__(self, key: str, **details: Any) -> None:
        super().__init__(key)
        self.key, self.details = key, details


class NotAllowed(ServiceError):
    """The actor may not do this (re-checked by the service, whatever the handler saw)."""

    def __init__(self, key: str = "common.not_allowed", **details: Any) -> None:
        super().__init__(key, **details)
