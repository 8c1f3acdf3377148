"""Offline checks of the Kestra flows (Kestra cannot run here): each flow parses, uses only task
types and properties of kestra/reference/flow-catalog.json, keeps to the subset that parses on
both Kestra 1.3 and 2.0, and refers only to inputs, outputs, secrets and KV entries that exist or
are documented in kestra/README.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.kestra import pebble
from tests.kestra.flows import (
    EXPECTED_FLOWS,
    FLOW_DIR,
    FLOW_FILES,
    Task,
    catalog,
    load,
    strings_in,
    tasks_of,
)

README = (FLOW_DIR / "README.md").read_text()
flows = pytest.mark.parametrize("path", FLOW_FILES, ids=[path.stem for path in FLOW_FILES])


def unknown(found: dict[str, Any], allowed: set[str]) -> set[str]:
    return set(found) - allowed


def test_every_flow_the_issue_asks_for_is_there():
    assert {path.stem for path in FLOW_FILES} == EXPECTED_FLOWS


@flows
def test_the_flow_parses_without_duplicate_keys_and_is_named_after_its_file(path: Path):
    flow = load(path)
    assert flow["id"] == path.stem


@flows
def test_the_flow_has_its_required_keys_and_only_portable_ones(path: Path):
    flow, spec = load(path), catalog()["flow"]
    assert set(spec["required"]) <= set(flow)
    assert not unknown(flow, set(spec["portable_keys"]))
    for key in ("id", "namespace"):
        assert re.match(spec["patterns"][key] + "$", flow[key]), key
        assert len(flow[key]) <= spec["maxLength"][key]
    if "concurrency" in flow:
        concurrency = catalog()["concurrency"]
        assert set(concurrency["required"]) <= set(flow["concurrency"])
        assert not unknown(flow["concurrency"], set(concurrency["properties"]))
        assert flow["concurrency"].get("behavior", "QUEUE") in concurrency["properties"]["behavior"]


@flows
def test_every_task_type_is_in_the_catalog_with_its_required_properties_and_no_unknown_ones(
    path: Path,
):
    common = set(catalog()["task_common_properties"]["properties"])
    for found in tasks_of(load(path)):
        task = found.task
        spec = catalog()["tasks"].get(task.get("type"))
        assert spec is not None, f"{task.get('id')}: {task.get('type')} is not in the catalog"
        missing = set(spec["required"]) - set(task)
        assert not missing, f"{task['id']} lacks {missing}"
        allowed = common | set(spec["required"]) | set(spec.get("optional", []))
        assert not unknown(task, allowed), f"{task['id']}: unknown {unknown(task, allowed)}"
        if task["type"] == "io.kestra.plugin.core.flow.If":
            # Not @NotNull in Kestra's source, but the task decides nothing without it.
            assert "condition" in task, task["id"]
        if task["type"] == "io.kestra.plugin.core.flow.WorkingDirectory":
            assert task.get("tasks"), f"{task['id']} has no tasks"
        if "options" in task:
            assert not unknown(task["options"], set(spec["options_keys"])), task["id"]
        if "taskRunner" in task:
            runner = task["taskRunner"]
            assert runner.get("type") in catalog()["task_runners"], task["id"]
            assert set(runner) == {"type"}, f"{task['id']}: runner properties are not modelled"


@flows
def test_every_retry_has_a_known_type_and_its_required_properties(path: Path):
    spec = catalog()["retry"]
    for found in tasks_of(load(path)):
        retry = found.task.get("retry")
        if retry is None:
            continue
        kind = spec["types"].get(retry.get("type"))
        assert kind is not None, f"{found.task['id']}: retry type {retry.get('type')}"
        assert set(kind["required"]) <= set(retry), found.task["id"]
        allowed = {"type", *kind["required"], *kind.get("optional", []), *spec["common_optional"]}
        assert not unknown(retry, allowed), found.task["id"]
        # A retry without a bound would poll or hammer the portal for ever.
        assert "maxAttempts" in retry or "maxDuration" in retry, found.task["id"]


@flows
def test_the_triggers_are_catalogued_and_have_no_conditions(path: Path):
    common = set(catalog()["trigger_common_properties"]["properties"])
    for trigger in load(path).get("triggers", []):
        spec = catalog()["triggers"].get(trigger.get("type"))
        assert spec is not None, trigger.get("type")
        assert set(spec["required"]) <= set(trigger)
        assert not unknown(trigger, common | set(spec["required"]) | set(spec["optional"]))
        if trigger.get("returnOutputs"):
            assert trigger.get("wait") is True, "returnOutputs needs wait: true"


@flows
def test_the_inputs_and_outputs_have_portable_types_and_known_properties(path: Path):
    flow = load(path)
    spec = catalog()["input"]
    for item in flow.get("inputs", []):
        assert item["type"] in spec["portable_types"], item["id"]
        assert re.match(spec["id_pattern"], item["id"])
        extra = set(spec["per_type"].get(item["type"], {}).get("optional", []))
        allowed = set(spec["required"]) | set(spec["optional"]) | extra
        assert not unknown(item, allowed), item["id"]
        if "validator" in item:
            re.compile(item["validator"])
    output_spec = catalog()["flow_output"]
    for output in flow.get("outputs", []):
        assert set(output_spec["required"]) <= set(output), output.get("id")
        assert not unknown(output, set(output_spec["required"]) | set(output_spec["optional"]))


@flows
def test_task_ids_are_unique_across_the_whole_flow(path: Path):
    ids = [found.task["id"] for found in tasks_of(load(path))]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@flows
def test_the_flow_uses_none_of_the_constructs_that_break_on_kestra_2(path: Path):
    text = path.read_text()
    for construct in catalog()["pebble_2_0_breakers"]:
        assert construct not in text, construct

    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for item in value.values() for k in keys(item)}
        if isinstance(value, list):
            return {k for item in value for k in keys(item)}
        return set()

    assert not keys(load(path)) & {"conditions", "when", "pluginDefaults", "runner", "docker"}


@flows
def test_every_expression_is_pebble_the_replays_can_render(path: Path):
    for where, text in strings_in(load(path)):
        for expression in pebble.expressions(text):
            try:
                pebble.parse(expression)
            except pebble.PebbleError as error:
                pytest.fail(f"{where}: {{{{{expression}}}}}: {error}")


def references(flow: dict[str, Any]) -> list[tuple[str, Task | None, pebble.Node]]:
    """(where, task or None for flow-level, node) of every expression node in the flow."""
    found: list[tuple[str, Task | None, pebble.Node]] = []

    def collect(value: Any, where: str, task: Task | None) -> None:
        for path, text in strings_in(value, where):
            for expression in pebble.expressions(text):
                for node in pebble.walk(pebble.parse(expression)):
                    found.append((path, task, node))

    for task in tasks_of(flow):
        children = {
            key
            for key in catalog()["tasks"][task.task["type"]].get("child_lists", [])
            + catalog()["tasks"][task.task["type"]].get("child_maps", [])
        }
        own = {key: value for key, value in task.task.items() if key not in children}
        collect(own, task.task["id"], task)
    for key in ("outputs", "triggers", "inputs", "variables", "labels"):
        collect(flow.get(key), key, None)
    return found


@flows
def test_every_output_input_and_trigger_reference_points_at_something_that_exists(path: Path):
    flow = load(path)
    tasks = {found.task["id"]: found for found in tasks_of(flow)}
    inputs = {item["id"] for item in flow.get("inputs", [])}
    trigger_types = {trigger["type"].rsplit(".", 1)[-1] for trigger in flow.get("triggers", [])}
    for where, user, node in references(flow):
        names = pebble.path_of(node) if node.kind in ("name", "attr", "item") else None
        if not names or len(names) < 2:
            continue
        root = names[0]
        if root == "outputs":
            target = tasks.get(names[1])
            assert target is not None, f"{where}: no task {names[1]!r}"
            spec = catalog()["tasks"][target.task["type"]]
            if len(names) > 2:
                assert names[2] in spec.get("outputs", []), f"{where}: {'.'.join(names)}"
            if user is not None and user.where == "tasks":
                # A task can read only the outputs of tasks that ran before it.
                assert target.order < user.order, f"{where} reads {names[1]} before it runs"
            if len(names) > 3 and names[2] == "vars":
                commands = "\n".join(target.task.get("commands", []))
                assert f'"{names[3]}"' in commands or f"'{names[3]}'" in commands, (
                    f"{where}: {names[1]} never sets the output {names[3]!r}"
                )
        elif root == "inputs":
            assert names[1] in inputs, f"{where}: no input {names[1]!r}"
        elif root == "trigger":
            expected = {"body": "Webhook", "headers": "Webhook", "date": "Schedule"}
            assert expected.get(names[1]) in trigger_types, f"{where}: trigger.{names[1]}"
        elif root == "execution":
            assert names[1] == "id", where
        elif root == "flow":
            assert names[1] in ("id", "namespace"), where


@flows
def test_every_secret_and_kv_entry_is_documented_in_the_kestra_readme(path: Path):
    for where, _, node in references(load(path)):
        if node.kind != "call" or node.value not in ("secret", "kv"):
            continue
        argument = node.children[0]
        assert argument.kind == "literal", f"{where}: {node.value}() of a computed name"
        documented = f"SECRET_{argument.value}" if node.value == "secret" else argument.value
        assert f"`{documented}`" in README, f"{where}: {documented} is not in kestra/README.md"


@flows
def test_every_task_that_calls_the_portal_says_it_comes_from_kestra(path: Path):
    for found in tasks_of(load(path)):
        task = found.task
        if task["type"] == "io.kestra.plugin.core.http.Request":
            assert task["headers"]["X-Understudy-Source"] == "kestra", task["id"]
            assert task["headers"]["Authorization"].startswith("Bearer {{ secret("), task["id"]
            assert "timeout" in task and "retry" in task, task["id"]


def test_every_flow_is_described_in_the_kestra_readme():
    for path in FLOW_FILES:
        assert f"`{path.name}`" in README, path.name


@flows
def test_every_shell_command_is_a_string_not_a_yaml_mapping(path: Path):
    # An unquoted "a: b" in a command makes YAML read a mapping, which Kestra refuses.
    for found in tasks_of(load(path)):
        for key in ("commands", "beforeCommands"):
            for command in found.task.get(key, []):
                assert isinstance(command, str), f"{found.task['id']}.{key}: {command!r}"
