"""The repository carries every file its tests, tools and documents refer to: a clean clone on a
machine with nothing beside it passes its tests."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Spelled in parts, so that this file does not hold the very reference it looks for.
SHARED_FOLDER = "/".join(("..", "shared"))
RELATIVE_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+[\w./-]*)")
PARENTS_INDEX = re.compile(r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]")
ROOT_PARENT = re.compile(r"\bROOT\.parent\b")


@cache
def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("not a git checkout: run the tests in a clone, whose tracked files are known")
    return [ROOT / name for name in listed.split("\0") if name]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def outside_references(path: Path, text: str) -> list[str]:
    found = []
    if SHARED_FOLDER in text:
        found.append(SHARED_FOLDER)
    for match in RELATIVE_PATH.finditer(text):
        target = (path.parent / match.group(1)).resolve()
        if not target.is_relative_to(ROOT):
            found.append(match.group(1))
    if path.suffix == ".py":
        # parents[n] of a file n folders deep is the repository's root; one more is outside.
        depth = len(path.relative_to(ROOT).parts)
        found += [m.group(0) for m in PARENTS_INDEX.finditer(text) if int(m.group(1)) >= depth]
        found += [m.group(0) for m in ROOT_PARENT.finditer(text)]
    return found


def test_no_tracked_file_refers_to_a_path_outside_the_repository():
    offences = {}
    # This file's examples below are offences on purpose.
    for path in set(tracked_files()) - {Path(__file__).resolve()}:
        text = text_of(path)
        if text is not None and (found := outside_references(path, text)):
            offences[str(path.relative_to(ROOT))] = found

    assert offences == {}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("kestra/README.md", f"see `{SHARED_FOLDER}/kestra/NOTES.md`"),
        ("README.md", "[design](../../design.md)"),
        ("tests/railway/test_x.py", 'Path(__file__).resolve().parents[3] / "schema.json"'),
        ("tests/kestra/flows.py", 'CATALOG = ROOT.parent / "catalog.json"'),
    ],
)
def test_the_check_sees_each_kind_of_outside_reference(name, text):
    assert outside_references(ROOT / name, text) != []


def test_the_check_accepts_paths_inside_the_repository():
    text = 'ROOT = Path(__file__).resolve().parents[2]\nsee [api](../docs/api.md), "../src/x.ts"'

    assert outside_references(ROOT / "tests/docs/test_x.py", text) == []


def test_the_files_the_tests_read_are_in_the_repository():
    tracked = {str(path.relative_to(ROOT)) for path in tracked_files()}

    assert {
        "kestra/reference/flow-catalog.json",
        "kestra/reference/kestra-openapi-ee-2.0.0-SNAPSHOT.yml",
        "kestra/reference/SOURCE.md",
        "staging/railway/schema.json",
    } <= tracked


def test_no_module_imports_from_a_test_file():
    """Helpers shared by test files live in fixtures or helper modules, never in a test file."""
    importing = re.compile(r"^\s*(?:from|import)\s+(tests(?:\.\w+)*\.test_\w+)", re.MULTILINE)
    offences = {
        str(path.relative_to(ROOT)): importing.findall(path.read_text())
        for path in (ROOT / "tests").rglob("*.py")
        if importing.search(path.read_text())
    }

    assert offences == {}
