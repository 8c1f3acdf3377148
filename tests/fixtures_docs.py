"""What the documentation tests share: checking a ``manage.py`` command line against the
command's real parser."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, get_commands, load_command_class


def check_manage_py(arguments: list[str]) -> None:
    name, rest = arguments[0], arguments[1:]
    app = get_commands().get(name)
    assert app is not None, f"manage.py {name}: no such command"
    parser = load_command_class(app, name).create_parser("manage.py", name)
    try:
        parser.parse_args(rest)
    except (SystemExit, CommandError) as error:
        pytest.fail(f"manage.py {name} {' '.join(rest)}: does not parse ({error})")
