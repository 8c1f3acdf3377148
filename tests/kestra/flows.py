"""Reading the flows in kestra/ and the hand-derived catalog of Kestra task types beside them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
FLOW_DIR = ROOT / "kestra"
CATALOG_PATH = FLOW_DIR / "reference" / "flow-catalog.json"
FLOW_FILES = sorted(FLOW_DIR.glob("*.yaml"))
EXPECTED_FLOWS = {
    "clone_staging",
    "clone_staging_api",
    "list_staging_environments",
    "delete_staging_environment",
    "cleanup_expired_staging",
    "deploy_to_railway",
}


class DuplicateKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice (PyYAML keeps the last; Kestra rejects the flow)."""


def _mapping(loader: DuplicateKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = {key for key in keys if keys.count(key) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark
        )
    return loader.construct_mapping(node)


DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load(path: Path) -> dict[str, Any]:
    flow = yaml.load(path.read_text(), Loader=DuplicateKeyLoader)  # noqa: S506 (a SafeLoader)
    assert isinstance(flow, dict), f"{path.name} is not a YAML mapping"
    return flow


@cache
def catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOG_PATH.read_text())
    return data


@dataclass
class Task:
    task: dict[str, Any]
    where: str  # "tasks", "errors", ...: the flow-level list it is under
    order: int  # position in a depth-first walk of that list


def tasks_of(flow: dict[str, Any]) -> Iterator[Task]:
    """Every task of the flow, nested ones included, in the order Kestra would reach them."""
    counter = 0

    def walk(items: list[dict[str, Any]], where: str) -> Iterator[Task]:
        nonlocal counter
        for task in items or []:
            counter += 1
            yield Task(task, where, counter)
            spec = catalog()["tasks"].get(task.get("type"), {})
            for key in spec.get("child_lists", []):
                yield from walk(task.get(key) or [], where)
            for key in spec.get("child_maps", []):
                for branch in (task.get(key) or {}).values():
                    yield from walk(branch, where)

    for where in ("tasks", "errors", "finally", "afterExecution"):
        yield from walk(flow.get(where) or [], where)


def strings_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string Kestra renders: descriptions are shown, never rendered."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "description":
                yield from strings_in(item, f"{path}.{key}" if path else str(key))
