"""Telegram-shaped API errors raised by emulated Bot API methods."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client as ``{"ok": false, "error_code": ..., ...}``."""

    def __init__(
        self,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        html: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.html = html  # answered as a proxy's HTML error page instead of Telegram's JSON

    def to_html(self) -> str:
        """The page a reverse proxy in front of the Bot API answers with (e.g. nginx's 502)."""
        title = f"{self.status} {self.description}"
        return (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )

    def to_response(self) -> dict[str, Any]:
        """Return the JSON body Telegram would send for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str, parameters: dict[str, Any] | None = None) -> ApiError:
    """Build a 400 ``Bad Request: <detail>`` error."""
    return ApiError(400, f"Bad Request: {detail}", parameters)


def forbidden(detail: str) -> ApiError:
    """Build a 403 ``Forbidden: <detail>`` error."""
    return ApiError(403, f"Forbidden: {detail}")
