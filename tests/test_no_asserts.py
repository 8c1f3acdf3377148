"""The product's guards are real checks: ``python -O`` removes assert statements, so the
production code has none (tests assert freely)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("staging", "portal")


def assert_statements(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]


def test_the_product_code_has_no_assert_statements():
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in assert_statements(path)
    }

    assert found == set()


def test_the_search_sees_an_assert_statement(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(x):\n    assert x is not None\n    return x\n")

    assert assert_statements(sample) == [2]
