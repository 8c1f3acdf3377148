"""PHP serialization, and WP-CLI's serialized-safe search and replace on one value.

``replace_in_value`` follows ``WP_CLI\\SearchReplacer::run_recursively`` (wp-cli/search-replace-
command, ``src/WP_CLI/SearchReplacer.php``) with ``--recurse-objects`` (WP-CLI's default):

- a string that PHP's ``unserialize`` accepts is unserialized, walked and serialized again, so
  every string length is recomputed; this applies at any depth, so serialized values stored
  inside serialized strings are handled too;
- arrays: every value is walked, keys never change;
- objects: public properties are walked, as WP-CLI does when the object's class is loaded;
  private and protected properties (mangled ``\\0`` names) and custom-serialized ``C:`` objects
  are kept as they are;
- any other string gets ``str_replace`` with each pair in turn (PHP's array form of
  ``str_replace`` is the same as running the pairs one after the other).

One deliberate difference: PHP's ``unserialize`` ignores bytes after a complete value, so WP-CLI
would rewrite ``i:5;https://...`` as ``i:5;`` and lose the rest. Here a value is treated as
serialized only when it is serialized from its first byte to its last.

With ``host_boundaries`` (what the URL rewrite uses), a search string that ends in a host name
or path character matches only where that name ends, as WP-CLI's ``--regex`` mode would with
``HOST_BOUNDARY`` after each such search: ``//shop.example`` does not match inside
``//shop.example.org/`` or ``//shop.examples.com/``. Searches that end in a separator (``/``,
``\\/``, ``%2F``) or a placeholder match anywhere, as plain ``str_replace`` does.

PHP string lengths count bytes, so all parsing is done on the UTF-8 encoding of the value.
"""

from __future__ import annotations

import decimal
import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Python values stand for PHP values: None, bool, int, float, bytes (a PHP string),
# PhpArray, PhpObject, and the two kinds kept verbatim (PhpRaw).
PhpKey = int | bytes


@dataclass
class PhpArray:
    items: dict[PhpKey, object] = field(default_factory=dict)


@dataclass
class PhpObject:
    class_name: bytes
    properties: dict[bytes, object] = field(default_factory=dict)


@dataclass
class PhpRaw:
    """A piece kept byte for byte: a ``C:`` object or an ``r:``/``R:`` reference."""

    raw: bytes


class NotSerialized(ValueError):
    """The bytes are not something PHP's ``unserialize`` would accept."""


_INT = re.compile(rb"[+-]?[0-9]+")
_UINT = re.compile(rb"[0-9]+")
_FLOAT = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NAN|-?INF")
_CLASS_NAME = re.compile(rb"^[A-Za-z_\x7f-\xff\\][A-Za-z0-9_\x7f-\xff\\]*$")
_CANONICAL_INT_KEY = re.compile(rb"^(?:0|-?[1-9][0-9]*)$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def expect(self, token: bytes) -> None:
        if not self.data.startswith(token, self.pos):
            raise NotSerialized(self.pos)
        self.pos += len(token)

    def match(self, pattern: re.Pattern[bytes]) -> bytes:
        found = pattern.match(self.data, self.pos)
        if found is None:
            raise NotSerialized(self.pos)
        self.pos = found.end()
        return found.group()

    def length(self) -> int:
        return int(self.match(_UINT))

    def raw_string(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise NotSerialized(self.pos)
        value = self.data[self.pos : end]
        self.pos = end
        return value

    def escaped_string(self, size: int) -> bytes:
        # ``S:`` strings write bytes as ``\xx`` hex escapes; the length counts decoded bytes.
        out = bytearray()
        while len(out) < size:
            if self.pos >= len(self.data):
                raise NotSerialized(self.pos)
            byte = self.data[self.pos]
            if byte == 0x5C:
                digits = self.data[self.pos + 1 : self.pos + 3]
                if len(digits) != 2 or not re.fullmatch(rb"[0-9a-fA-F]{2}", digits):
                    raise NotSerialized(self.pos)
                out.append(int(digits, 16))
                self.pos += 3
            else:
                out.append(byte)
                self.pos += 1
        return bytes(out)

    def value(self) -> object:
        if self.pos + 1 >= len(self.data):
            raise NotSerialized(self.pos)
        kind = self.data[self.pos : self.pos + 1]
        start = self.pos
        if kind == b"N":
            self.expect(b"N;")
            return None
        self.pos += 1
        self.expect(b":")
        if kind == b"b":
            flag = self.data[self.pos : self.pos + 1]
            if flag not in (b"0", b"1"):
                raise NotSerialized(self.pos)
            self.pos += 1
            self.expect(b";")
            return flag == b"1"
        if kind == b"i":
            number = int(self.match(_INT))
            if not _INT64_MIN <= number <= _INT64_MAX:
                raise NotSerialized(start)
            self.expect(b";")
            return number
        if kind == b"d":
            text = self.match(_FLOAT)
            self.expect(b";")
            return float(text.decode().replace("INF", "inf").replace("NAN", "nan"))
        if kind in (b"s", b"S"):
            size = self.length()
            self.expect(b':"')
            text = self.raw_string(size) if kind == b"s" else self.escaped_string(size)
            self.expect(b'";')
            return text
        if kind == b"a":
            count = self.length()
            self.expect(b":{")
            items: dict[PhpKey, object] = {}
            for _ in range(count):
                key = self.value()
                if isinstance(key, bytes):
                    key = _array_key(key)
                elif isinstance(key, bool) or not isinstance(key, int):
                    raise NotSerialized(self.pos)
                items[key] = self.value()
            self.expect(b"}")
            return PhpArray(items)
        if kind == b"O":
            size = self.length()
            self.expect(b':"')
            class_name = self.raw_string(size)
            if not _CLASS_NAME.match(class_name):
                raise NotSerialized(start)
            self.expect(b'":')
            count = self.length()
            self.expect(b":{")
            properties: dict[bytes, object] = {}
            for _ in range(count):
                name = self.value()
                if isinstance(name, bool) or not isinstance(name, bytes | int):
                    raise NotSerialized(self.pos)
                # PHP 8 turns integer property names into strings.
                key = name if isinstance(name, bytes) else str(name).encode()
                properties[key] = self.value()
            self.expect(b"}")
            return PhpObject(class_name, properties)
        if kind == b"C":
            size = self.length()
            self.expect(b':"')
            if not _CLASS_NAME.match(self.raw_string(size)):
                raise NotSerialized(start)
            self.expect(b'":')
            size = self.length()
            self.expect(b":{")
            self.raw_string(size)
            self.expect(b"}")
            return PhpRaw(self.data[start : self.pos])
        if kind in (b"r", b"R"):
            self.length()
            self.expect(b";")
            return PhpRaw(self.data[start : self.pos])
        raise NotSerialized(start)


def _array_key(key: bytes) -> PhpKey:
    """PHP stores a string key that reads as a canonical integer as that integer."""
    if _CANONICAL_INT_KEY.match(key):
        number = int(key)
        if _INT64_MIN <= number <= _INT64_MAX:
            return number
    return key


def php_unserialize(data: bytes) -> object:
    """The value serialized in ``data``; raises ``NotSerialized`` unless all of it is one value."""
    parser = _Parser(data)
    try:
        value = parser.value()
    except RecursionError as exc:
        raise NotSerialized(0) from exc
    if parser.pos != len(data):
        raise NotSerialized(parser.pos)
    return value


def php_float(number: float) -> bytes:
    """PHP's ``serialize`` spelling of a float (``serialize_precision = -1``, zend_gcvt)."""
    if math.isnan(number):
        return b"NAN"
    if math.isinf(number):
        return b"INF" if number > 0 else b"-INF"
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    if number == 0:
        return f"{sign}0".encode()
    exact = decimal.Decimal(repr(abs(number))).normalize()
    _, digit_tuple, exponent = exact.as_tuple()
    if not isinstance(exponent, int):  # only NaN and infinities have none, handled above
        raise ValueError(f"not a finite number: {number!r}")
    digits = "".join(map(str, digit_tuple))
    decpt = len(digits) + exponent
    if (decpt < -3) if decpt < 0 else (decpt > 17):
        power = decpt - 1
        mantissa = digits[0] + "." + (digits[1:] or "0")
        text = f"{mantissa}E{'-' if power < 0 else '+'}{abs(power)}"
    elif decpt <= 0:
        text = "0." + "0" * -decpt + digits
    elif decpt >= len(digits):
        text = digits + "0" * (decpt - len(digits))
    else:
        text = digits[:decpt] + "." + digits[decpt:]
    return (sign + text).encode()


def _string(value: bytes) -> bytes:
    return b's:%d:"%s";' % (len(value), value)


def php_serialize(value: object) -> bytes:
    """PHP's ``serialize`` of a value as represented here."""
    if value is None:
        return b"N;"
    if isinstance(value, bool):
        return b"b:1;" if value else b"b:0;"
    if isinstance(value, int):
        return b"i:%d;" % value
    if isinstance(value, float):
        return b"d:" + php_float(value) + b";"
    if isinstance(value, bytes):
        return _string(value)
    if isinstance(value, str):
        return _string(value.encode())
    if isinstance(value, PhpArray):
        body = b"".join(
            (b"i:%d;" % key if isinstance(key, int) else _string(key)) + php_serialize(item)
            for key, item in value.items.items()
        )
        return b"a:%d:{%s}" % (len(value.items), body)
    if isinstance(value, PhpObject):
        body = b"".join(
            _string(key) + php_serialize(item) for key, item in value.properties.items()
        )
        name = value.class_name
        return b'O:%d:"%s":%d:{%s}' % (len(name), name, len(value.properties), body)
    if isinstance(value, PhpRaw):
        return value.raw
    raise TypeError(f"cannot serialize {type(value).__name__} as PHP")


def _unserialize_like_php(data: bytes) -> tuple[bool, object]:
    """(True, value) when WP-CLI would see ``unserialize`` succeed (anything but ``false``)."""
    if len(data) < 2 or data[1:2] not in (b":", b";"):
        return False, None
    try:
        value = php_unserialize(data)
    except NotSerialized:
        return False, None
    return value is not False, value


# What may not follow a host name (or a path segment) for it to be the whole name: another
# name character, or a dot that starts another label (``shop.example.org``). A dot followed by
# anything else ends a sentence, not a host name.
HOST_BOUNDARY = r"(?![A-Za-z0-9_~-]|\.[A-Za-z0-9_~-])"
_NAME_END = re.compile(rb"[A-Za-z0-9_~-]\Z")
_ENCODED_SEPARATOR = re.compile(rb"%2F\Z", re.IGNORECASE)

Pairs = tuple[tuple[bytes, bytes], ...]
Replacer = Callable[[bytes], bytes]


def needs_host_boundary(search: str | bytes) -> bool:
    """Whether a search string ends in a name character, so that it needs ``HOST_BOUNDARY``."""
    data = search.encode() if isinstance(search, str) else search
    return bool(_NAME_END.search(data)) and not _ENCODED_SEPARATOR.search(data)


def _literally(replacement: bytes) -> Callable[[re.Match[bytes]], bytes]:
    # A function, so that re.sub does not read backslashes in the replacement as escapes.
    return lambda _: replacement


@functools.lru_cache(maxsize=32)
def _replacer(pairs: Pairs, host_boundaries: bool) -> Replacer:
    if not host_boundaries:

        def replace_plain(text: bytes) -> bytes:
            for search, replacement in pairs:
                text = text.replace(search, replacement)
            return text

        return replace_plain

    steps: list[tuple[bytes, bytes, re.Pattern[bytes] | None]] = [
        (
            search,
            replacement,
            re.compile(re.escape(search) + HOST_BOUNDARY.encode())
            if needs_host_boundary(search)
            else None,
        )
        for search, replacement in pairs
    ]

    def replace_bounded(text: bytes) -> bytes:
        for search, replacement, pattern in steps:
            if search not in text:
                continue
            if pattern is None:
                text = text.replace(search, replacement)
            else:
                text = pattern.sub(_literally(replacement), text)
        return text

    return replace_bounded


def _walk(value: object, replace: Replacer) -> object:
    if isinstance(value, bytes):
        serialized, inner = _unserialize_like_php(value)
        if serialized:
            return php_serialize(_walk(inner, replace))
        return replace(value)
    if isinstance(value, PhpArray):
        return PhpArray({key: _walk(item, replace) for key, item in value.items.items()})
    if isinstance(value, PhpObject):
        return PhpObject(
            value.class_name,
            {
                key: item if key.startswith(b"\0") else _walk(item, replace)
                for key, item in value.properties.items()
            },
        )
    return value


def replace_in_value(
    value: str, replacements: Sequence[tuple[str, str]], *, host_boundaries: bool = False
) -> str:
    """``value`` after WP-CLI's serialized-safe search and replace with each pair in turn."""
    if not value:
        return value
    pairs = tuple((search.encode(), new.encode()) for search, new in replacements if search)
    data = value.encode("utf-8", "surrogateescape")
    # WP-CLI only visits rows that contain the search string, so a value without any is
    # returned as it is, floats and all.
    if not any(search in data for search, _ in pairs):
        return value
    replace = _replacer(pairs, host_boundaries)
    try:
        result = _walk(data, replace)
    except RecursionError:
        result = replace(data)
    if not isinstance(result, bytes):
        raise TypeError("a rewritten serialized value must be bytes")
    return result.decode("utf-8", "surrogateescape")


def looks_serialized(value: str) -> bool:
    """Whether a value may unserialize at all: the cheap test the database also applies."""
    return len(value) >= 2 and value[0] in "aOCsSidbNrRE" and value[1] in ":;"
