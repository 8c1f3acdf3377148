"""deploy_to_railway.yaml replayed: its commands run for real in a working directory, with
stand-ins for what cannot run here (the Git clone is a copy of this checkout's Dockerfile; the
image build checks that the Dockerfile is there; `npm` and `railway` are small scripts on the
PATH that record how they were called and keep Railway's state in a directory)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.kestra import pebble
from tests.kestra.flows import FLOW_DIR, load
from tests.kestra.replay import replay_flow

ROOT = Path(__file__).resolve().parents[2]
DOCKER_RUNNER = "io.kestra.plugin.scripts.runner.docker.Docker"

# `railway variables --service X` fails until `railway add --database x` made X; `railway up`
# fails for a service named in $FAIL_UP. Each call is a JSON line in $CALLS.
RAILWAY = """#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
state = Path(os.environ["RAILWAY_STATE"])
with open(os.environ["CALLS"], "a") as calls:
    call = {"argv": ["railway", *args], "cwd_has_dockerfile": Path("Dockerfile").exists(),
            "token_set": bool(os.environ.get("RAILWAY_API_TOKEN")),
            "environment": os.environ.get("RAILWAY_ENVIRONMENT")}
    calls.write(json.dumps(call) + "\\n")
if args[:1] == ["variables"]:
    sys.exit(0 if (state / args[args.index("--service") + 1]).exists() else 1)
if args[:1] == ["add"]:
    (state / {"postgres": "Postgres", "redis": "Redis"}[args[-1]]).touch()
if args[:1] == ["up"] and args[-1] == os.environ.get("FAIL_UP"):
    print("Deploy failed", file=sys.stderr)
    sys.exit(1)
if args[:1] == ["--version"]:
    print("railway 5.0.0")
"""
NPM = """#!/bin/sh
printf '{"argv": ["npm", "%s"]}\\n' "$*" >> "$CALLS"
"""


@pytest.fixture
def stand_ins(tmp_path: Path) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("railway", RAILWAY), ("npm", NPM)):
        program = bin_dir / name
        program.write_text(text)
        program.chmod(program.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "railway-state"
    state.mkdir()
    return {"bin": bin_dir, "state": state, "calls": tmp_path / "calls.jsonl"}


def clone(task: dict[str, Any], directory: Path) -> dict[str, Any]:
    shutil.copy(ROOT / "Dockerfile", directory / "Dockerfile")
    return {"commitId": "0" * 40}


def build(task: dict[str, Any], directory: Path) -> dict[str, Any]:
    assert (directory / task["dockerfile"]).exists(), "the image would have no Dockerfile"
    return {"imageId": "sha256:" + "0" * 64}


def deploy(stand_ins: dict[str, Any], **env: str) -> Any:
    context = pebble.Context(
        variables={
            "inputs": {"branch": "main", "environment": "production"},
            "execution": {"id": "4wjtkzwVGBM9yKnjm3yv8r"},
            "outputs": {},
        },
        secrets={
            "GIT_TOKEN": "git-token",
            "RAILWAY_DEPLOY_TOKEN": "railway-token",
            "RAILWAY_PROJECT_ID": "project-understudy",
        },
        kv={"UNDERSTUDY_GIT_URL": "https://git.example.com/agency/understudy.git"},
    )
    return replay_flow(
        load(FLOW_DIR / "deploy_to_railway.yaml"),
        context,
        env={
            "PATH": f"{stand_ins['bin']}:/usr/bin:/bin",
            "RAILWAY_STATE": str(stand_ins["state"]),
            "CALLS": str(stand_ins["calls"]),
            **env,
        },
        stand_ins={"clone": clone, "build": build},
        host_runners=frozenset({DOCKER_RUNNER}),
    )


def railway_calls(stand_ins: dict[str, Any]) -> list[list[str]]:
    lines = stand_ins["calls"].read_text().splitlines()
    return [call["argv"] for call in map(json.loads, lines) if call["argv"][0] == "railway"]


def test_a_first_deploy_adds_the_databases_then_deploys_web_and_worker(stand_ins):
    replay = deploy(stand_ins)

    assert replay.failure is None, replay.failure
    assert railway_calls(stand_ins) == [
        ["railway", "--version"],
        ["railway", "link", "--project", "project-understudy", "--environment", "production"],
        ["railway", "variables", "--service", "Postgres", "--kv"],
        ["railway", "add", "--database", "postgres"],
        ["railway", "variables", "--service", "Redis", "--kv"],
        ["railway", "add", "--database", "redis"],
        ["railway", "up", "--ci", "--service", "web"],
        ["railway", "up", "--ci", "--service", "worker"],
    ]
    calls = [json.loads(line) for line in stand_ins["calls"].read_text().splitlines()]
    assert all(call["token_set"] for call in calls if call["argv"][0] == "railway")
    assert all(call["cwd_has_dockerfile"] for call in calls if call["argv"][0] == "railway")
    assert replay.logs == [
        "Deployed main to Railway (production); image understudy:4wjtkzwVGBM9yKnjm3yv8r built."
    ]


def test_a_second_deploy_adds_no_database(stand_ins):
    deploy(stand_ins)
    stand_ins["calls"].unlink()

    replay = deploy(stand_ins)

    assert replay.failure is None, replay.failure
    assert not [call for call in railway_calls(stand_ins) if call[1] == "add"]


def test_a_failed_deploy_fails_the_flow_and_logs_it(stand_ins):
    replay = deploy(stand_ins, FAIL_UP="worker")

    assert replay.failure is not None and replay.failure.task_id == "railway_up"
    assert "Deploy failed" in replay.failure.message
    assert replay.logs == ["Deploying main to Railway (production) failed; see the task logs."]
