"""Reading Railway's answers field by field, each one checked.

A field Railway stopped sending (or sends with another type) fails with one clear
``RailwayUnexpectedResponse`` naming the operation and the field, instead of a ``KeyError`` deep
in a step. Values are never quoted in the error: they may be connection URLs with passwords.
"""

from __future__ import annotations

from typing import Any

from staging.railway.errors import RailwayUnexpectedResponse


class Answer:
    """One JSON object of Railway's answer to ``operation``, found at ``path``."""

    __slots__ = ("_fields", "_operation", "_path")

    def __init__(self, value: object, operation: str, path: str = "data") -> None:
        if not isinstance(value, dict):
            raise unexpected(operation, path, "an object")
        self._fields: dict[str, Any] = value
        self._operation = operation
        self._path = path

    def text(self, key: str) -> str:
        value = self._required(key)
        if not isinstance(value, str):
            raise unexpected(self._operation, self._at(key), "a string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._fields.get(key)
        if value is not None and not isinstance(value, str):
            raise unexpected(self._operation, self._at(key), "a string or null")
        return value

    def integer(self, key: str) -> int:
        value = self._required(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise unexpected(self._operation, self._at(key), "an integer")
        return value

    def answer(self, key: str) -> Answer:
        return Answer(self._required(key), self._operation, self._at(key))

    def optional_answer(self, key: str) -> Answer | None:
        value = self._fields.get(key)
        return None if value is None else Answer(value, self._operation, self._at(key))

    def answers(self, key: str) -> list[Answer]:
        """A list of objects; a null list reads as empty."""
        value = self._fields.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise unexpected(self._operation, self._at(key), "a list")
        return [
            Answer(item, self._operation, f"{self._at(key)}[{n}]") for n, item in enumerate(value)
        ]

    def strings(self, key: str) -> dict[str, str]:
        """A JSON map of names to values (Railway's variables); null values left out."""
        value = self._fields.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise unexpected(self._operation, self._at(key), "a map of names to values")
        return {str(name): str(item) for name, item in value.items() if item is not None}

    def flag(self, key: str) -> bool:
        return self._fields.get(key) is True

    # -- connections (Relay pagination) -------------------------------------------------------

    def nodes(self) -> list[Answer]:
        """The nodes of this connection, in order."""
        return [edge.answer("node") for edge in self.answers("edges")]

    def next_cursor(self) -> str | None:
        """Where the next page starts, or None on the last page."""
        page = self.optional_answer("pageInfo")
        if page is None or not page.flag("hasNextPage"):
            return None
        return page.optional_text("endCursor") or None

    def end_cursor(self) -> str | None:
        page = self.optional_answer("pageInfo")
        return None if page is None else page.optional_text("endCursor")

    def _required(self, key: str) -> Any:
        if key not in self._fields:
            raise RailwayUnexpectedResponse(
                f"Railway's answer to {self._operation} has no {self._at(key)}. Railway's API may "
                "have changed: check that RAILWAY_API_URL is Railway's GraphQL API, and update "
                "Understudy.",
                details={"operation": self._operation, "field": self._at(key)},
            )
        return self._fields[key]

    def _at(self, key: str) -> str:
        return f"{self._path}.{key}"


def unexpected(operation: str, path: str, expected: str) -> RailwayUnexpectedResponse:
    return RailwayUnexpectedResponse(
        f"Railway's answer to {operation} has {path} that is not {expected}. Railway's API may "
        "have changed: check that RAILWAY_API_URL is Railway's GraphQL API, and update "
        "Understudy.",
        details={"operation": operation, "field": path, "expected": expected},
    )
