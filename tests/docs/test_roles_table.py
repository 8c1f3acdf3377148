"""docs/security.md's table of who may do what, checked cell by cell against staging.roles."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from staging import roles
from tests.fixtures_portal import make_user

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
COLUMNS = {
    roles.VIEWERS: {"group": roles.VIEWERS},
    roles.ACCOUNT_MANAGERS: {"group": roles.ACCOUNT_MANAGERS},
    "Administrators": {"superuser": True},
    "staff without a role": {},
}


def table() -> tuple[list[str], list[list[str]]]:
    text = SECURITY.read_text()
    section = text.split("## Who can see and do what", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, _rule, *rows = cells
    return header, rows


def decided_by(cell: str) -> Callable[[roles.User], bool]:
    match = re.fullmatch(r"`(can_\w+)`", cell)
    assert match, f"the last column names a function of staging.roles: {cell!r}"
    function: Callable[[roles.User], bool] = getattr(roles, match.group(1))
    return function


def test_the_tables_columns_are_the_roles():
    header, _rows = table()

    assert header[0] == "what"
    assert header[1:-1] == list(COLUMNS)
    assert header[-1] == "decided by"


def test_every_question_staging_roles_answers_is_in_the_table():
    _header, rows = table()
    documented = {decided_by(row[-1]).__name__ for row in rows}
    questions = {
        name
        for name, function in inspect.getmembers(roles, inspect.isfunction)
        if name.startswith("can_") and function.__module__ == roles.__name__
    }

    assert documented == questions


def personas() -> dict[str, User]:
    return {
        column: make_user(f"user-{n}", **options)  # type: ignore[arg-type]
        for n, (column, options) in enumerate(COLUMNS.items())
    }


def mismatches(header: list[str], rows: list[list[str]], users: dict[str, User]) -> list[str]:
    found = []
    for row in rows:
        question = decided_by(row[-1])
        for column, cell in zip(header[1:-1], row[1:-1], strict=True):
            assert cell in {"yes", "no"}, f"{row[0]!r} / {column}: {cell!r}"
            if question(users[column]) != (cell == "yes"):
                found.append(f"{row[0]!r} for {column}: the table says {cell}")
    return found


@pytest.mark.django_db
def test_every_cell_says_what_the_role_may_do():
    header, rows = table()

    assert mismatches(header, rows, personas()) == []


@pytest.mark.django_db
def test_any_one_wrong_cell_would_be_caught():
    header, rows = table()
    users = personas()

    for r, row in enumerate(rows):
        for c in range(1, len(row) - 1):
            flipped = [list(each) for each in rows]
            flipped[r][c] = "no" if row[c] == "yes" else "yes"
            assert len(mismatches(header, flipped, users)) == 1, (row[0], header[c])
