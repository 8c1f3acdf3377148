"""The part of Kestra's Pebble templates that the flows in kestra/ use, and nothing more.

Kestra cannot run here, so the flows' HTTP calls are replayed by rendering their expressions
with this. It is strict on purpose: an expression using syntax, a function or a filter not
listed here fails to parse, so a flow cannot drift into Pebble this file does not model.

Supported: ``{{ expr }}`` only (no ``{% %}`` tags, no ``{# #}`` comments); literals (strings,
integers, true, false, null); paths (``a.b``, ``a['b']``, ``a[0]``); the functions ``secret``,
``kv`` and ``fromJson``; the filters ``toJson``, ``slugify``, ``length``, ``urlencode``;
the operators ``? :``, ``or``, ``and``, ``not``, ``??``, ``== != < > <= >=`` and ``~``.
``??`` gives its right side when the left is null or undefined (Kestra's null-coalescing);
any other use of an undefined name or key is an error (Kestra renders strictly).
"""

from __future__ import annotations

import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

FUNCTIONS = ("secret", "kv", "fromJson")
FILTERS = ("toJson", "slugify", "length", "urlencode")
ROOTS = ("inputs", "outputs", "trigger", "execution", "flow")


class PebbleError(Exception):
    """The text uses Pebble this renderer does not model, or is not valid Pebble."""


class Undefined(Exception):
    """A name or key that the context does not have."""


# --- parsing -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>\d+)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\?\?|==|!=|<=|>=|[<>?:|~.,()\[\]])
    )""",
    re.VERBOSE,
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise PebbleError(f"unexpected {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


@dataclass
class Node:
    kind: str  # literal, name, attr, item, call, filter, unary, binary, ternary
    value: Any = None
    children: list[Node] = field(default_factory=list)


class Parser:
    # Lowest binding first; filters and paths bind tightest, as in Pebble.
    BINARY = (("or",), ("and",), ("??",), ("==", "!=", "<", ">", "<=", ">="), ("~",))

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise PebbleError(f"expected {expected or 'more'}, found the end")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise PebbleError(f"expected {expected!r}, found {token[1]!r}")
        self.position += 1
        return token

    def parse(self) -> Node:
        node = self.ternary()
        if self.position != len(self.tokens):
            raise PebbleError(f"unexpected {self.tokens[self.position][1]!r}")
        return node

    def ternary(self) -> Node:
        condition = self.binary(0)
        if self.peek() == "?":
            self.take("?")
            then = self.ternary()
            self.take(":")
            otherwise = self.ternary()
            return Node("ternary", children=[condition, then, otherwise])
        return condition

    def binary(self, level: int) -> Node:
        if level == len(self.BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self.BINARY[level]:
            operator = self.take()[1]
            left = Node("binary", operator, [left, self.binary(level + 1)])
        return left

    def unary(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Node("unary", "not", [self.unary()])
        return self.filtered()

    def filtered(self) -> Node:
        node = self.postfix(self.primary())
        while self.peek() == "|":
            self.take("|")
            kind, name = self.take()
            if kind != "name" or name not in FILTERS:
                raise PebbleError(f"filter {name!r} is not one the flows may use: {FILTERS}")
            node = Node("filter", name, [node])
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "string":
            return Node("literal", json.loads('"' + text[1:-1].replace('"', '\\"') + '"'))
        if kind == "number":
            return Node("literal", int(text))
        if text == "(":
            node = self.ternary()
            self.take(")")
            return node
        if kind == "name":
            if text in ("true", "false"):
                return Node("literal", text == "true")
            if text == "null":
                return Node("literal", None)
            if self.peek() == "(":
                if text not in FUNCTIONS:
                    raise PebbleError(f"function {text!r} is not one the flows may use")
                self.take("(")
                argument = self.ternary()
                self.take(")")
                return Node("call", text, [argument])
            if text not in ROOTS:
                raise PebbleError(f"{text!r} is not a Kestra variable the flows may use")
            return Node("name", text)
        raise PebbleError(f"unexpected {text!r}")

    def postfix(self, node: Node) -> Node:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "name":
                    raise PebbleError(f"expected a name after '.', found {name!r}")
                node = Node("attr", name, [node])
            else:
                key = self.ternary()
                self.take("]")
                node = Node("item", None, [node, key])
        return node


def parse(expression: str) -> Node:
    return Parser(expression).parse()


_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def expressions(text: str) -> list[str]:
    """The ``{{ }}`` expressions of a template; ``{% %}`` and ``{# #}`` are refused."""
    if "{%" in text or "{#" in text:
        raise PebbleError(f"Pebble tags and comments are not used by the flows: {text!r}")
    found = _EXPRESSION.findall(text)
    if any("{{" in expression for expression in found) or "}}" in _EXPRESSION.sub("", text):
        raise PebbleError(f"unbalanced {{{{ }}}} in {text!r}")
    leftover = _EXPRESSION.sub("", text)
    if "{{" in leftover:
        raise PebbleError(f"unclosed {{{{ in {text!r}")
    return found


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def path_of(node: Node) -> list[str] | None:
    """``outputs.create.body`` as ['outputs', 'create', 'body'] (literal keys only)."""
    if node.kind == "name":
        return [node.value]
    if node.kind == "attr":
        parent = path_of(node.children[0])
        return None if parent is None else [*parent, node.value]
    if node.kind == "item" and node.children[1].kind == "literal":
        parent = path_of(node.children[0])
        return None if parent is None else [*parent, str(node.children[1].value)]
    return None


# --- rendering ---------------------------------------------------------------------------------


@dataclass
class Context:
    variables: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    kv: dict[str, Any] = field(default_factory=dict)


def slugify(text: str) -> str:
    """As Kestra's ``slugify`` filter (io.kestra.core.utils.Slugify.of, which the filter calls):
    whitespace becomes a hyphen, the text is decomposed (NFD) and everything but ASCII letters,
    digits, ``_`` and ``-`` is dropped (so ``v2.1`` gives ``v21``, not ``v2-1``), ``_`` becomes
    ``-``, runs of hyphens one, one hyphen is trimmed at each end, and the result is lowercased.
    Java's ``\\s`` and ``\\w`` are ASCII-only, hence ``re.ASCII``."""
    slug = re.sub(r"\s", "-", text, flags=re.ASCII)
    slug = re.sub(r"[^\w-]", "", unicodedata.normalize("NFD", slug), flags=re.ASCII)
    slug = slug.replace("_", "-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    slug = slug.removeprefix("-").removesuffix("-")
    return slug.lower()


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, dict) and key in container:
        return container[key]
    if isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
        return container[key]
    raise Undefined(f"{key!r} is not defined")


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    if name not in table:
        raise Undefined(f"no {what} {name!r}")
    return table[name]


FILTER_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "toJson": lambda value: json.dumps(value, separators=(",", ":")),
    "slugify": lambda value: slugify(str(value)),
    "length": len,
    "urlencode": lambda value: urllib.parse.quote_plus(str(value)),
}


def evaluate(node: Node, context: Context) -> Any:
    kind = node.kind
    if kind == "literal":
        return node.value
    if kind == "name":
        return _get(context.variables, node.value)
    if kind == "attr":
        return _get(evaluate(node.children[0], context), node.value)
    if kind == "item":
        return _get(evaluate(node.children[0], context), evaluate(node.children[1], context))
    if kind == "call":
        argument = evaluate(node.children[0], context)
        if node.value == "secret":
            return _lookup(context.secrets, argument, "secret")
        if node.value == "kv":
            return _lookup(context.kv, argument, "KV entry")
        return json.loads(argument)
    if kind == "filter":
        return FILTER_FUNCTIONS[node.value](evaluate(node.children[0], context))
    if kind == "unary":
        return not evaluate(node.children[0], context)
    if kind == "ternary":
        condition, then, otherwise = node.children
        return evaluate(then if evaluate(condition, context) else otherwise, context)
    left_node, right_node = node.children
    operator = node.value
    if operator == "??":
        try:
            left = evaluate(left_node, context)
        except Undefined:
            left = None
        return evaluate(right_node, context) if left is None else left
    if operator == "or":
        return evaluate(left_node, context) or evaluate(right_node, context)
    if operator == "and":
        return evaluate(left_node, context) and evaluate(right_node, context)
    left, right = evaluate(left_node, context), evaluate(right_node, context)
    if operator == "~":
        return text_of(left) + text_of(right)
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: bool(a == b),
        "!=": lambda a, b: bool(a != b),
        "<": lambda a, b: bool(a < b),
        ">": lambda a, b: bool(a > b),
        "<=": lambda a, b: bool(a <= b),
        ">=": lambda a, b: bool(a >= b),
    }
    return comparisons[operator](left, right)


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise PebbleError("a map or list is printed only through toJson")
    return str(value)


def render(template: str, context: Context) -> str:
    """The template with every ``{{ }}`` replaced by its value, as Kestra prints it."""
    expressions(template)
    return _EXPRESSION.sub(lambda match: text_of(evaluate(parse(match[1]), context)), template)


def render_value(value: Any, context: Context) -> Any:
    """Strings rendered, lists and maps rendered item by item, anything else as it is."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    return value
