#!/usr/bin/env python
"""Run the reliability suite (issue 10) and write ``docs/reliability.md`` from its results.

    .venv/bin/python scripts/reliability_report.py [--reduced] [--only CATEGORY]
        [--output docs/reliability.md]

It runs ``pytest -m reliability tests/reliability`` with a JUnit XML report, then reads, for
every test, its outcome and the properties it recorded with pytest's ``record_property``:

- ``category``: ``fault``, ``load``, ``input``, ``secrets``, ``guard`` or ``hostile``
  (else "other");
- ``case``: what was tried, in a few words;
- ``outcome``: how it ended, in a few words;
- ``figures``: ``json.dumps`` of a flat dict of numbers or short strings
  (``secrets`` tests put ``secrets_found`` there; ``hostile`` tests put ``refused_with``,
  ``nothing_read_or_written`` and ``seconds_to_fail``).

``--only CATEGORY`` runs the tests of one category only (by their module, see ``MODULES``) and
writes a report with that category's section alone, to merge by hand; the full report needs
the whole suite.

``--reduced`` is the CI's version: a smaller load (``RELIABILITY_LOAD_CLONES=6``) and
``RELIABILITY_REDUCED=1`` for any test that scales itself down. The exit code is pytest's: not
zero when a test failed or the suite could not run; the report is written either way.

The test database and Redis database default to ones of this suite's own
(``TEST_RUN_NAME=reliability``, ``TEST_REDIS_DB=13``), so that it can run next to other test
runs on one machine; set them to choose others.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("fault", "load", "input", "secrets", "guard", "hostile")
# Where each category's tests live, for --only.
MODULES = {
    "fault": ("test_faults.py", "test_reconcile.py"),
    "load": ("test_load.py",),
    "input": ("test_hostile_input.py",),
    "secrets": ("test_secrets.py",),
    "guard": ("test_guard.py",),
    "hostile": ("test_hostile_project.py",),
}
REDUCED_CLONES = "6"


@dataclass
class Result:
    nodeid: str
    status: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return self.properties.get("category", "other")

    @property
    def case(self) -> str:
        return self.properties.get("case") or self.nodeid.rsplit("::", 1)[-1].replace("_", " ")

    @property
    def outcome(self) -> str:
        if self.status == "passed":
            return self.properties.get("outcome", "as expected")
        return f"**{self.status.upper()}**: {self.message}"[:300]

    @property
    def figures(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.properties.get("figures", "{}"))
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}


def run_suite(junit: Path, reduced: bool, extra: list[str], only: str | None = None) -> int:
    environment = os.environ.copy()
    environment.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/understudy")
    environment.setdefault("TEST_RUN_NAME", "reliability")
    environment.setdefault("TEST_REDIS_DB", "13")
    if reduced:
        environment["RELIABILITY_LOAD_CLONES"] = REDUCED_CLONES
        environment["RELIABILITY_REDUCED"] = "1"
    paths = (
        [f"tests/reliability/{module}" for module in MODULES[only]]
        if only
        else ["tests/reliability"]
    )
    command = [
        str(ROOT / ".venv" / "bin" / "pytest"),
        *paths,
        "-m",
        "reliability",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        *extra,
    ]
    print("reliability:", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, env=environment, check=False).returncode


def read_results(junit: Path) -> list[Result]:
    if not junit.exists():
        return []
    results = []
    # Our own pytest wrote this file a moment ago: not untrusted input.
    for case in ElementTree.parse(junit).getroot().iter("testcase"):  # noqa: S314
        nodeid = f"{case.get('classname', '')}::{case.get('name', '')}"
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                status = {"failure": "failed"}.get(tag, tag)
                message = (
                    (found.get("message") or "").splitlines()[0] if found.get("message") else ""
                )
                break
        properties = {prop.get("name", ""): prop.get("value", "") for prop in case.iter("property")}
        results.append(
            Result(nodeid, status, float(case.get("time", "0") or 0), message, properties)
        )
    return results


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{name.replace('_', ' ')}: {value}" for name, value in figures.items())


def _table(results: list[Result], headers: tuple[str, str, str]) -> list[str]:
    lines = [f"| {headers[0]} | {headers[1]} | {headers[2]} |", "| --- | --- | --- |"]
    for result in results:
        figures = _cell(_figures(result.figures))
        lines.append(f"| {_cell(result.case)} | {_cell(result.outcome)} | {figures} |")
    return lines


def _seconds(value: object) -> str:
    try:
        return f"{float(str(value)):.1f} s"
    except ValueError:
        return "?"


def _hostile_table(results: list[Result]) -> list[str]:
    lines = [
        "| Case | Refused with | Nothing read or written | Time to fail |",
        "| --- | --- | --- | --- |",
    ]
    for result in results:
        figures = result.figures
        refused = figures.get("refused_with", "") if result.status == "passed" else result.outcome
        lines.append(
            f"| {_cell(result.case)} | {_cell(refused)} "
            f"| {_cell(figures.get('nothing_read_or_written', ''))} "
            f"| {_seconds(figures.get('seconds_to_fail'))} |"
        )
    return lines


def _hostile(results: list[Result]) -> list[str]:
    return [
        "## Hostile client project",
        "",
        "Whoever can edit one client's Railway project (its variables, its database servers) "
        "tries to steer the worker, through the real pipeline against the Railway sandbox (whose "
        "TCP proxies are relays with a port each). Each case is refused (unknown URL parameters: "
        "dropped) before anything is read or written (the copy engine's connections are "
        "recorded; the other databases' tables and "
        "rows compared; no file, no Railway environment left), with a stable error code "
        "(docs/errors.md); the time is the run's, from start to failure.",
        "",
        *(_hostile_table(results) if results else ["No hostile-project test ran."]),
        "",
    ]


def _machine() -> str:
    cores = os.cpu_count() or 0
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{socket.gethostname()}: {platform.system()} {platform.release()}, {cores} cores"
        f"{memory}, Python {platform.python_version()}"
    )


def render(
    results: list[Result],
    returncode: int,
    reduced: bool,
    seconds: float,
    only: str | None = None,
) -> str:
    by_category: dict[str, list[Result]] = {}
    for result in results:
        by_category.setdefault(result.category, []).append(result)
    passed = sum(r.status == "passed" for r in results)
    broken = [r for r in results if r.status in ("failed", "error")]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = (
        "all passed: every fault ridden out or rolled back cleanly, nothing lost"
        if returncode == 0 and not broken
        else f"**NOT all passed** ({len(broken)} failed; pytest exit code {returncode})"
    )
    lines = [
        "# Reliability",
        "",
        "Generated by `scripts/reliability_report.py"
        + (" --reduced" if reduced else "")
        + (f" --only {only}" if only else "")
        + "`; do not edit by hand.",
        "",
        f"- Date: {now}",
        f"- Machine: {_machine()}",
        f"- Suite: `pytest -m reliability tests/reliability`, {len(results)} tests, "
        f"{passed} passed, in {seconds:.0f} s ({'reduced, as in CI' if reduced else 'full'})",
        f"- Result: {verdict}",
        "",
    ]
    if only:
        lines += _hostile(by_category.get("hostile", [])) if only == "hostile" else []
        if only != "hostile":
            lines += [
                f"## {only}",
                "",
                *_table(by_category.get(only, []), ("Case", "Result", "Figures")),
                "",
            ]
        return "\n".join(lines + _failures(broken))
    lines += [
        "## Faults tried",
        "",
        "Each fault case ends with a ready environment (then torn down) or a clean rollback, and "
        "checks that nothing was lost: no Railway environment left but production, the sandbox's "
        "databases exactly as before, no pg_dump/psql/mariadb process left, and the request and "
        "the outcome of every run in the audit log.",
        "",
        *_table(by_category.get("fault", []), ("Fault", "How it ended", "Figures")),
        "",
        "## Load",
        "",
    ]
    for result in by_category.get("load", []):
        lines += [f"**{_cell(result.case)}**: {_cell(result.outcome)}", ""]
        if result.figures:
            lines += ["| Figure | Value |", "| --- | --- |"]
            lines += [
                f"| {name.replace('_', ' ')} | {value} |" for name, value in result.figures.items()
            ]
            lines.append("")
    if not by_category.get("load"):
        lines += ["No load test ran.", ""]
    lines += [
        "## Bad inputs tried",
        "",
        *_table(by_category.get("input", []), ("Input", "How it was handled", "Figures")),
        "",
        "## Secrets",
        "",
    ]
    secrets = by_category.get("secrets", [])
    found = sum(int(r.figures.get("secrets_found", 0) or 0) for r in secrets)
    scanned = all(r.status == "passed" for r in secrets) and bool(secrets)
    lines += [
        f"Secrets found: **{found}**"
        + ("" if scanned else " (the scan did not run or did not pass)"),
        "",
        *_table(secrets, ("Scan", "Result", "Figures")),
        "",
        "## Guard",
        "",
        *_table(by_category.get("guard", []), ("Guard", "Result", "Figures")),
        "",
        *_hostile(by_category.get("hostile", [])),
    ]
    if by_category.get("other"):
        lines += [
            "## Other tests",
            "",
            *_table(by_category["other"], ("Test", "Result", "Figures")),
            "",
        ]
    return "\n".join(lines + _failures(broken))


def _failures(broken: list[Result]) -> list[str]:
    if not broken:
        return []
    return ["## Failures", "", *(f"- `{r.nodeid}`: {_cell(r.message)}" for r in broken), ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reduced", action="store_true", help="The CI's smaller version.")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument(
        "--only",
        choices=sorted(MODULES),
        help="Run one category's tests and write its section alone (merge it by hand).",
    )
    parser.add_argument("pytest_args", nargs="*", help="Passed on to pytest (after --).")
    options = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="reliability-") as directory:
        junit = Path(directory) / "junit.xml"
        returncode = run_suite(junit, options.reduced, options.pytest_args, options.only)
        results = read_results(junit)
    seconds = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
    if not results and returncode == 0:
        returncode = 1  # nothing ran: no evidence is not good evidence
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(
        render(results, returncode, options.reduced, seconds, options.only) + "\n"
    )
    print(f"reliability: wrote {options.output} ({len(results)} tests)", flush=True)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
