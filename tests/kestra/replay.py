"""Replays a flow's tasks outside Kestra: what Kestra would send and read, against a live portal.

Only the task types whose effect can be reproduced here are run: ``http.Request`` (sent with
httpx), ``execution.Fail``, ``log.Log`` and ``shell.Commands`` on the Process runner (run with
``sh``, output variables read from ``::{"outputs": ...}::`` lines as Kestra does). A failure runs
the flow's ``errors`` tasks, like Kestra. ``WorkingDirectory`` runs its tasks in one scratch
directory. Anything else stops the replay, so a test cannot pass by skipping a task it did not
model, unless the test names a stand-in for that task (``stand_ins``: what the task would leave
in the working directory, e.g. a clone of this repository) or lets shell commands meant for a
container run on this machine (``host_runners``), with its own stand-ins for the programs they
call on its ``PATH``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.kestra import pebble

OUTPUT_LINE = re.compile(r"^::(\{.*\})::$", re.MULTILINE)


class NotReplayable(Exception):
    """A flow uses a task or runner this replayer does not model: the replay fails loudly
    rather than pretend the task ran."""


class TaskFailed(Exception):
    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(f"{task_id}: {message}")
        self.task_id = task_id
        self.message = message


@dataclass
class Replay:
    outputs: dict[str, Any] = field(default_factory=dict)  # the flow's outputs
    logs: list[str] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    failure: TaskFailed | None = None  # what failed in the tasks
    final_error: str | None = None  # the error the errors branch ended the execution with


def send(task: dict[str, Any], context: pebble.Context, replay: Replay) -> dict[str, Any]:
    headers = {k: str(v) for k, v in pebble.render_value(task.get("headers", {}), context).items()}
    body = task.get("body")
    if body is not None:
        headers.setdefault("Content-Type", task.get("contentType", "application/json"))
    request = httpx.Request(
        task.get("method", "GET"),
        pebble.render(task["uri"], context),
        headers=headers,
        content=None if body is None else pebble.render(body, context).encode(),
    )
    replay.requests.append(request)
    with httpx.Client(timeout=30) as client:
        response = client.send(request)
    output = {
        "uri": str(request.url),
        "code": response.status_code,
        "headers": dict(response.headers),
        "body": response.text,
    }
    if response.status_code >= 400 and not task.get("options", {}).get("allowFailed", False):
        raise TaskFailed(task["id"], f"HTTP {response.status_code}")
    return output


PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"


@dataclass
class Options:
    env: dict[str, str] = field(default_factory=dict)
    stand_ins: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] = field(
        default_factory=dict
    )
    host_runners: frozenset[str] = frozenset()
    cwd: Path | None = None


def run_commands(task: dict[str, Any], context: pebble.Context, options: Options) -> Any:
    runner = task.get("taskRunner", {}).get("type")
    if runner != PROCESS_RUNNER and runner not in options.host_runners:
        raise NotReplayable(f"{task['id']}: only the Process runner can be replayed")
    env = options.env
    rendered_env = {k: str(v) for k, v in pebble.render_value(task.get("env", {}), context).items()}
    commands = [*task.get("beforeCommands", []), *task["commands"]]
    script = "\n".join(pebble.render_value(commands, context))
    # Kestra runs the commands with /bin/sh -c, and with `set -e` while failFast is on.
    result = subprocess.run(
        ["/bin/sh", "-c", "set -e\n" + script],
        env=os.environ | env | rendered_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=options.cwd,
    )
    variables: dict[str, Any] = {}
    for line in OUTPUT_LINE.findall(result.stdout):
        variables |= json.loads(line)["outputs"]
    if result.returncode != 0:
        raise TaskFailed(task["id"], f"exit {result.returncode}: {result.stderr.strip()}")
    return {"vars": variables, "exitCode": result.returncode}


def truthy(text: str) -> bool:
    return text.strip() == "true"


def run_task(task: dict[str, Any], context: pebble.Context, replay: Replay, options: Options):
    kind = task["type"].rsplit(".", 1)[-1]
    if task["id"] in options.stand_ins:
        assert options.cwd is not None, f"{task['id']}: a stand-in runs in a working directory"
        return options.stand_ins[task["id"]](task, options.cwd)
    if kind == "Request":
        return send(task, context, replay)
    if kind == "Fail":
        if "condition" not in task or truthy(pebble.render(task["condition"], context)):
            raise TaskFailed(
                task["id"], pebble.render(task.get("errorMessage", "Task failure"), context)
            )
        return {}
    if kind == "Log":
        replay.logs.append(pebble.render(task["message"], context))
        return {}
    if kind == "Commands":
        return run_commands(task, context, options)
    if kind == "WorkingDirectory":
        outputs: dict[str, Any] = context.variables["outputs"]
        with tempfile.TemporaryDirectory(prefix="kestra-working-directory-") as directory:
            inner = Options(options.env, options.stand_ins, options.host_runners, Path(directory))
            for child in task["tasks"]:
                outputs[child["id"]] = run_task(child, context, replay, inner)
        return {}
    raise NotReplayable(f"{task['id']}: {task['type']} is not replayed")


def coerce(value: str, kind: str) -> Any:
    if kind == "INT":
        return int(value)
    if kind == "JSON":
        return json.loads(value)
    return value


def replay_flow(
    flow: dict[str, Any],
    context: pebble.Context,
    *,
    after: dict[str, Callable[[dict[str, Any]], None]] | None = None,
    env: dict[str, str] | None = None,
    stand_ins: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] | None = None,
    host_runners: frozenset[str] = frozenset(),
) -> Replay:
    """Run the flow's tasks in order; ``after[task_id]`` is called with that task's output."""
    replay = Replay()
    options = Options(env or {}, stand_ins or {}, host_runners)
    outputs: dict[str, Any] = context.variables.setdefault("outputs", {})
    try:
        for task in flow["tasks"]:
            outputs[task["id"]] = run_task(task, context, replay, options)
            if after and task["id"] in after:
                after[task["id"]](outputs[task["id"]])
        for output in flow.get("outputs", []):
            replay.outputs[output["id"]] = coerce(
                pebble.render(output["value"], context), output["type"]
            )
    except TaskFailed as failure:
        replay.failure = failure
        replay.final_error = failure.message
        for task in flow.get("errors", []):
            try:
                run_task(task, context, replay, options)
            except TaskFailed as error:
                replay.final_error = error.message
    return replay
