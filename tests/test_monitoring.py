"""The alert rules and the Grafana dashboard (docs/monitoring/): valid for Prometheus, firing
when they should, and naming only metrics that /metrics exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.core import HistogramMetricFamily

from staging.metrics import UnderstudyCollector

MONITORING = Path(__file__).resolve().parent.parent / "docs" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
INSTALL_HINT = "install it with: apt-get install prometheus (scripts/install_test_packages.sh)"
METRIC_NAME = re.compile(r"\bunderstudy_[a-z_]+\b")


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    """promtool, which Debian's prometheus package installs; fails (never skips) without it,
    as the other tests of Debian packages do."""
    program = shutil.which("promtool")
    if program is None:
        pytest.fail(f"promtool is not installed; {INSTALL_HINT}", pytrace=False)
    return subprocess.run(
        [program, *arguments],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def exposed_names() -> set[str]:
    """Every sample name /metrics can show, the suffixes Prometheus adds included."""
    names = set()
    for family in UnderstudyCollector().collect():
        if isinstance(family, HistogramMetricFamily):
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        elif family.type == "counter":
            names.add(f"{family.name}_total")
        else:
            names.add(family.name)
    return names


def test_promtool_accepts_the_alert_rules():
    result = promtool("check", "rules", ALERTS.name)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_fire_when_their_unit_tests_say():
    result = promtool("test", "rules", "alerts-test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_cover_what_an_operator_must_act_on():
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    alerts = {rule["alert"] for rule in rules}

    assert {
        "UnderstudyRunsFailingInARow",
        "UnderstudyRunsStuck",
        "UnderstudyCopiesNeedAttention",
        "UnderstudyRailwayRateLimited",
        "UnderstudyNoWorker",
    } <= alerts
    for rule in rules:
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor in runbook_anchors(), f"{rule['alert']}: no runbook section #{anchor}"


def runbook_anchors() -> set[str]:
    text = (MONITORING.parent / "runbook.md").read_text()
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.django_db
def test_the_alerts_and_the_dashboard_name_only_metrics_that_exist():
    exposed = exposed_names()
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    expressions += [
        rule["expr"] for rule in yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    ]

    used = {name for expression in expressions for name in METRIC_NAME.findall(expression)}

    assert used, "no metric found in the expressions"
    assert used - exposed == set()


@pytest.mark.django_db
def test_the_dashboard_shows_every_metric():
    dashboard = DASHBOARD.read_text()
    families = {family.name for family in UnderstudyCollector().collect()}

    assert {name for name in families if name not in dashboard} == set()
