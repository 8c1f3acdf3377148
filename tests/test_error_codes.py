"""Every stable error code the code can raise is documented in docs/errors.md."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import staging
from staging.errors import UnderstudyError

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def all_error_classes() -> set[type[UnderstudyError]]:
    for module in pkgutil.walk_packages(staging.__path__, "staging."):
        if ".migrations" not in module.name and ".management.commands" not in module.name:
            importlib.import_module(module.name)
    found: set[type[UnderstudyError]] = set()
    pending = [UnderstudyError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.add(subclass)
            pending.append(subclass)
    return found


def test_every_error_code_is_in_the_error_table():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(), re.MULTILINE))
    codes = {cls.code for cls in all_error_classes()} | {"internal_error"}
    assert codes - documented == set()


def test_codes_are_stable_snake_case_words():
    for cls in all_error_classes():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", cls.code), cls
