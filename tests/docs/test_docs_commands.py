"""Every command shown in the documentation is checked against the real thing.

Shell blocks (```sh, ```bash, ```shell) of README.md, docs/*.md and kestra/README.md are split
into commands, and each command must be one this file knows how to check:

- ``python manage.py NAME ARGS``: NAME exists and ARGS parse with its real parser, so a renamed
  flag or command fails here;
- ``curl`` to the portal: the path resolves to a real route that takes the method; to Kestra:
  the path and method are in Kestra's OpenAPI spec (kestra/reference/);
- ``make TARGET``: the Makefile has the target; ``docker compose SUBCOMMAND``: a compose
  subcommand, with ``config`` run for real in test_docker.py;
- ``pg_dump``/``pg_restore``/``mariadb-dump``: every long option is in the tool's ``--help``;
- a few plain shell utilities. Anything else fails: mark output and illustrations ```text.

Each block must also be valid bash (``bash -n``).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.urls import Resolver404, resolve

from tests.fixtures_docs import check_manage_py

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "kestra/README.md"]
SHELL_LANGUAGES = {"sh", "bash", "shell"}
KESTRA_SPEC = ROOT / "kestra/reference/kestra-openapi-ee-2.0.0-SNAPSHOT.yml"
PLAIN_UTILITIES = {"echo", "printf", "touch", "openssl", "base64", "for", "done", "cat"}
COMPOSE_SUBCOMMANDS = {"config", "up", "down", "ps", "logs", "exec", "run", "build", "pull"}
RAILWAY_SUBCOMMANDS = {"link", "add", "up", "variables", "run", "logs", "status"}
COPY_TOOLS = {"pg_dump", "pg_restore", "mariadb-dump", "psql", "mariadb"}


@dataclass
class Block:
    document: Path
    line: int
    text: str

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def shell_blocks() -> list[Block]:
    blocks = []
    for document in DOCUMENTS:
        lines = document.read_text().splitlines()
        inside, language, start = False, "", 0
        body: list[str] = []
        for number, line in enumerate(lines, 1):
            fence = re.match(r"^\s*```(\w*)", line)
            if fence and not inside:
                inside, language, start, body = True, fence[1], number, []
            elif fence and inside:
                inside = False
                if language in SHELL_LANGUAGES:
                    blocks.append(Block(document, start, "\n".join(body)))
            elif inside:
                body.append(line)
    return blocks


BLOCKS = shell_blocks()


def assignments(document: Path) -> dict[str, str]:
    """Variables a document's blocks assign (API=...): later blocks of it use them."""
    variables: dict[str, str] = {}
    for block in BLOCKS:
        if block.document == document:
            for line in block.text.splitlines():
                assignment = re.fullmatch(r"([A-Z_]+)=(.*)", line.strip())
                if assignment:
                    variables[assignment[1]] = shlex.split(assignment[2])[0]
    return variables


def commands_of(block: Block) -> list[list[str]]:
    """Each command of the block as words: continuations joined, comments and `;`/`&&`/`|`
    split off, variables assigned in the document substituted."""
    text = re.sub(r"\\\n\s*", " ", block.text)
    variables = assignments(block.document)
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if re.fullmatch(r"([A-Z_]+)=(.*)", line.strip()) and len(words) == 1:
            continue
        current: list[str] = []
        for word in words:
            for name, value in variables.items():
                word = word.replace(f"${name}", value).replace(f"${{{name}}}", value)
            if word in (";", "&&", "||", "|", "do", "then"):
                if current:
                    commands.append(current)
                current = []
            elif word.endswith(";"):
                current.append(word[:-1])
                commands.append(current)
                current = []
            else:
                current.append(word)
        if current:
            commands.append(current)
    return commands


def manage_py_arguments(words: list[str]) -> list[str] | None:
    for index, word in enumerate(words):
        if word.endswith("manage.py"):
            return words[index + 1 :]
    return None


@cache
def kestra_paths() -> dict[str, set[str]]:
    spec = yaml.safe_load(KESTRA_SPEC.read_text())
    return {path: {method.upper() for method in item} for path, item in spec["paths"].items()}


def check_kestra_call(method: str, path: str) -> None:
    for template, methods in kestra_paths().items():
        pattern = re.sub(r"\\\{tenant\\\}", "main", re.escape(template))
        pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", pattern)
        if re.fullmatch(pattern, path) and method in methods:
            return
    pytest.fail(f"{method} {path} is not in Kestra's OpenAPI spec")


def check_portal_call(method: str, path: str) -> None:
    try:
        match = resolve(path)
    except Resolver404:
        pytest.fail(f"{method} {path}: no such route in the portal")
    actions = getattr(match.func, "actions", None)
    if actions is not None:
        assert method.lower() in actions, f"{method} {path}: the route does not take {method}"


def check_curl(words: list[str]) -> None:
    method, url = "GET", None
    options_with_values = {"-X", "-H", "-d", "-F", "-u", "--data-binary", "-o"}
    index = 1
    while index < len(words):
        word = words[index]
        if word == "-X":
            method = words[index + 1]
        if word in ("-d", "-F", "--data-binary") and method == "GET":
            method = "POST"
        if word in options_with_values:
            index += 2
            continue
        if not word.startswith("-"):
            url = word
        index += 1
    assert url, f"curl without a URL: {words}"
    path = urlsplit(re.sub(r"^\$\{?\w+\}?", "http://host", url)).path
    if url.startswith(("$KESTRA", "${KESTRA}")):
        check_kestra_call(method, path)
    else:
        check_portal_call(method, path)


@cache
def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def check_command(words: list[str]) -> None:
    program = words[0]
    arguments = manage_py_arguments(words)
    if arguments is not None:
        check_manage_py(arguments)
    elif program == "curl":
        check_curl(words)
    elif program == "make":
        assert set(words[1:]) <= make_targets(), f"make {words[1:]}: no such target"
    elif words[:2] == ["docker", "compose"]:
        assert words[2] in COMPOSE_SUBCOMMANDS, f"docker compose {words[2]}"
    elif program == "railway":
        assert words[1] in RAILWAY_SUBCOMMANDS, f"railway {words[1]}"
    elif program in COPY_TOOLS:
        help_text = subprocess.run(
            [program, "--help"], capture_output=True, text=True, check=False
        ).stdout
        for word in words[1:]:
            if word.startswith("--"):
                assert word.split("=", 1)[0] in help_text, f"{program} {word}: unknown option"
    elif program.endswith("pytest"):
        for word in words[1:]:
            assert (ROOT / word).exists(), f"pytest {word}: no such path"
    else:
        assert program in PLAIN_UTILITIES, (
            f"{program}: a command the docs test cannot check; mark the block ```text if it is "
            "not a command"
        )


def test_the_docs_have_shell_blocks_to_check():
    documents = {block.document.name for block in BLOCKS}
    assert {"README.md", "runbook.md", "api.md", "security.md"} <= documents


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_every_command_in_the_block_is_real(block: Block):
    result = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for words in commands_of(block):
        check_command(words)


@pytest.mark.parametrize(
    "words",
    [
        ["python", "manage.py", "cleanup_staging", "--dryrun"],
        ["python", "manage.py", "clean_staging"],
        ["curl", "-X", "PUT", "https://understudy.example.com/api/v1/environments/41/"],
        ["curl", "https://understudy.example.com/api/v1/enviroments/"],
        ["curl", "-X", "POST", "$KESTRA/api/v1/main/executions/hook/understudy/x/y"],
        ["make", "deploy"],
        ["pg_dump", "--formats=custom"],
        ["rm", "-rf", "var"],
    ],
)
def test_a_command_that_is_not_real_fails_the_check(words: list[str]):
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        check_command(words)
