"""Request/response value types shared by the server, the routes and the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

JSON = "application/json; charset=utf-8"


class ApiError(Exception):
    """An error answered as {"status":"error","message":...} with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""

    def json(self) -> dict[str, Any]:
        """The JSON object body, or 400."""
        try:
            data = orjson.loads(self.body or b"{}")
        except orjson.JSONDecodeError as e:
            raise ApiError(400, f"Invalid JSON body: {e}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The JSON body must be an object")
        return data


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = JSON
    action: str | None = None  # "drop" (close, no response) | "short_read" (close mid-body)


@dataclass
class ListMods:
    """Changes faults make to one page of a list."""

    shift: int = 0  # records to move the page window by (negative: repeat, positive: skip)
    total_delta: int = 0
    empty: bool = False


def error(status: int, message: str) -> Response:
    return Response(status, orjson.dumps({"status": "error", "message": message}))


def ok(obj: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(obj))
