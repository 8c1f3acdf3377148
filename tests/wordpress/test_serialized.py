"""The serialized-safe replace of one value, judged by PHP and by WP-CLI's algorithm run in PHP."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staging.wordpress import replace_in_value, url_replacements
from staging.wordpress.prepare import rewrite_pairs
from staging.wordpress.serialized import (
    PhpArray,
    PhpObject,
    php_serialize,
    php_unserialize,
)
from tests.wordpress.php import run_reference

PAIRS = url_replacements(
    "https://www.client-shop.example", "https://client-shop-staging.up.railway.app"
)
PROD = "https://www.client-shop.example"
STAGE = "https://client-shop-staging.up.railway.app"


def ser(value: object) -> str:
    return php_serialize(value).decode()


FIXTURE_CASES = {
    "plain text": f'<a href="{PROD}/about/">About</a> and http://client-shop.example/x',
    "serialized string": ser(f"{PROD}/shop/".encode()),
    "nested arrays": ser(
        PhpArray(
            {b"home": f"{PROD}/".encode(), 0: PhpArray({b"deep": PhpArray({1: PROD.encode()})})}
        )
    ),
    "serialized inside serialized": ser(
        PhpArray({b"widget": php_serialize(PhpArray({0: f"{PROD}/img.png".encode()}))})
    ),
    "object with public properties": ser(
        PhpObject(b"stdClass", {b"url": PROD.encode(), b"n": 3, b"list": PhpArray({0: b"x"})})
    ),
    "object of a plugin class": ser(
        PhpObject(b"Some_Plugin_Settings", {b"endpoint": PROD.encode()})
    ),
    "json escaped": '{"url":"https:\\/\\/www.client-shop.example\\/shop\\/","n":1}',
    "json inside serialized": ser(b'{"u":"https:\\/\\/client-shop.example\\/a"}'),
    "url encoded": "redirect_to=https%3A%2F%2Fwww.client-shop.example%2Fcheckout%2F",
    "multibyte text around the URL": ser(f"Größe ☃ {PROD} 日本語".encode()),
    "floats and booleans next to URLs": ser(
        PhpArray({0: 0.1, 1: True, 2: None, 3: -7, 4: PROD.encode(), 5: 1e25})
    ),
    "numeric string keys": 'a:2:{s:1:"5";s:31:"https://www.client-shop.example";s:1:"x";b:0;}',
    "broken lengths are replaced as text (as WP-CLI does)": 's:3:"https://www.client-shop.example";',
}


# The rewrite's own pairs (uploads kept) with host boundaries, as prepare_site applies them.
REWRITE = rewrite_pairs([PROD], STAGE)
BOUNDARY_CASES = {
    "protocol-relative link": '<a href="//client-shop.example/faq/">FAQ</a>',
    "protocol-relative www link next to a full one": (
        f'<a href="//www.client-shop.example/a">a</a> {PROD}/b'
    ),
    "look-alike hosts": "//client-shop.example.other.com/ //client-shop.examplehostile.com/ "
    "https://www.client-shop.example-cdn.net/x //client-shop.example/ok",
    "sentence end": "See https://client-shop.example. Thanks",
    "protocol-relative uploads": (
        "//client-shop.example/wp-content/uploads/2024/a.jpg //client-shop.example/b"
    ),
    "serialized protocol-relative": ser(
        PhpArray(
            {
                b"logo": b"//client-shop.example/wp-content/uploads/l.png",
                b"link": b"//client-shop.example/",
            }
        )
    ),
    "serialized look-alike": ser(
        PhpArray({0: b"https://client-shop.example.org/", 1: PROD.encode()})
    ),
    "json protocol-relative": (
        '{"u":"\\/\\/client-shop.example\\/faq\\/","v":"\\/\\/client-shop.example.org\\/"}'
    ),
    "url-encoded protocol-relative": (
        "to=%2F%2Fclient-shop.example%2Fcart&x=%2F%2Fclient-shop.example.net%2F"
    ),
    "dollar and backslash in the text": ser(b"$1 \\1 //client-shop.example/$0"),
}


@pytest.mark.parametrize("name", sorted(BOUNDARY_CASES))
def test_with_host_boundaries_it_matches_wp_clis_regex_mode_and_still_unserializes(
    php: str, name: str
) -> None:
    value = BOUNDARY_CASES[name]
    result = replace_in_value(value, REWRITE, host_boundaries=True)
    [checked] = run_reference(php, [(value, REWRITE, result)], host_boundaries=True)
    assert result == checked["reference"]
    assert checked["check_unserializes"] == checked["input_unserializes"]
    assert "//client-shop.example/" not in result.replace("/wp-content/uploads/", "")


def test_with_host_boundaries_a_look_alike_host_is_kept_and_the_real_one_rewritten() -> None:
    value = ser(PhpArray({0: b"//client-shop.example.org/x", 1: b"//client-shop.example/x"}))
    result = php_unserialize(replace_in_value(value, REWRITE, host_boundaries=True).encode())
    assert result == PhpArray(
        {0: b"//client-shop.example.org/x", 1: b"//client-shop-staging.up.railway.app/x"}
    )


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_it_matches_wp_clis_replacer_on_fixture_cases(php: str, name: str) -> None:
    value = FIXTURE_CASES[name]
    result = replace_in_value(value, PAIRS)
    [checked] = run_reference(php, [(value, PAIRS, result)])
    assert result == checked["reference"]
    assert checked["check_unserializes"] == checked["input_unserializes"]
    assert "client-shop.example" not in result or name.startswith("broken")


def test_it_recomputes_string_lengths_in_bytes() -> None:
    result = replace_in_value(ser(f"é {PROD}".encode()), PAIRS)
    assert result == f's:{len(f"é {STAGE}".encode())}:"é {STAGE}";'


def test_it_rewrites_serialized_values_inside_serialized_values() -> None:
    inner = ser(PhpArray({0: PROD.encode()}))
    result = replace_in_value(ser(PhpArray({b"inner": inner.encode()})), PAIRS)
    outer = php_unserialize(result.encode())
    assert isinstance(outer, PhpArray)
    inner_value = outer.items[b"inner"]
    assert isinstance(inner_value, bytes)
    assert php_unserialize(inner_value) == PhpArray({0: STAGE.encode()})


def test_it_keeps_private_and_protected_properties_and_custom_serialized_objects() -> None:
    private = PhpObject(
        b"Foo",
        {b"\0Foo\0secret": PROD.encode(), b"\0*\0kept": PROD.encode(), b"open": PROD.encode()},
    )
    result = php_unserialize(replace_in_value(ser(private), PAIRS).encode())
    assert result == PhpObject(
        b"Foo",
        {b"\0Foo\0secret": PROD.encode(), b"\0*\0kept": PROD.encode(), b"open": STAGE.encode()},
    )
    custom = 'a:1:{i:0;C:11:"ArrayObject":' + f"{len(PROD)}:{{{PROD}}}}}"
    assert replace_in_value(custom, PAIRS) == custom


def test_it_leaves_a_value_without_the_production_url_untouched() -> None:
    odd_float = "a:1:{i:0;d:0.10000000000000001;}"
    assert replace_in_value(odd_float, PAIRS) == odd_float


def test_it_does_not_drop_text_after_a_complete_serialized_value() -> None:
    value = f"i:5;{PROD}"
    assert replace_in_value(value, PAIRS) == f"i:5;{STAGE}"


def test_it_never_touches_array_keys() -> None:
    value = ser(PhpArray({PROD.encode(): PROD.encode()}))
    assert replace_in_value(value, PAIRS) == ser(PhpArray({PROD.encode(): STAGE.encode()}))


@pytest.mark.parametrize(
    "number", [0.1, 1.0, 1e15, 1e16, 1e17, 1e-4, 1e-5, -0.0, 1.5e300, 5e-324, 123.456, -2.5e-7]
)
def test_it_spells_floats_as_php_serializes_them(php: str, number: float) -> None:
    value = ser(PhpArray({0: number, 1: PROD.encode()}))
    [checked] = run_reference(php, [(value, PAIRS, value)])
    assert replace_in_value(value, PAIRS) == checked["reference"]


# --- property-based: generated nested PHP values ----------------------------------------------

URL_PIECES = st.sampled_from(
    [
        PROD,
        "http://client-shop.example",
        "https://client-shop.example/wp-content/uploads/2024/01/a.jpg",
        "http:\\/\\/www.client-shop.example\\/x",
        "https%3A%2F%2Fclient-shop.example%2F",
        "https://www.client-shop.example.au",
        "//client-shop.example/faq/",
        "\\/\\/www.client-shop.example.org\\/",
        "%2F%2Fclient-shop.example%2F",
        "//client-shop.example/wp-content/uploads/b.png",
    ]
)
TEXT = st.lists(
    st.one_of(
        URL_PIECES, st.text(max_size=8), st.sampled_from(["é", "☃", "日本", "🎉", '";}', "s:3:"])
    ),
    max_size=5,
).map("".join)
PHP_FLOATS = st.floats(allow_nan=False).filter(lambda f: not math.isinf(f))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    PHP_FLOATS,
    TEXT.map(str.encode),
)
KEYS = st.one_of(st.integers(min_value=-1000, max_value=1000), TEXT.map(str.encode))


def _containers(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    array = st.dictionaries(KEYS, children, max_size=4).map(
        lambda items: php_unserialize(php_serialize(PhpArray(items)))
    )
    obj = st.builds(
        PhpObject,
        st.sampled_from([b"stdClass", b"WP_Example_Settings"]),
        st.dictionaries(
            st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).map(str.encode),
            children,
            max_size=3,
        ),
    )
    nested = children.map(php_serialize)  # a serialized value stored as a string
    return st.one_of(array, obj, nested)


PHP_VALUES = st.recursive(SCALARS, _containers, max_leaves=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PHP_VALUES, min_size=10, max_size=25))
def test_generated_nested_values_rewrite_exactly_as_wp_cli_and_still_unserialize(
    php: str, values: list[object]
) -> None:
    inputs = [php_serialize(value).decode("utf-8", "surrogateescape") for value in values]
    results = [replace_in_value(value, PAIRS) for value in inputs]
    checked = run_reference(php, list(zip(inputs, [PAIRS] * len(inputs), results, strict=True)))
    for value, result, verdict in zip(inputs, results, checked, strict=True):
        assert verdict["input_unserializes"], value
        assert verdict["check_unserializes"], result
        assert result == verdict["reference"], value


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PHP_VALUES, min_size=10, max_size=25))
def test_generated_values_with_host_boundaries_rewrite_as_wp_clis_regex_mode(
    php: str, values: list[object]
) -> None:
    inputs = [php_serialize(value).decode("utf-8", "surrogateescape") for value in values]
    results = [replace_in_value(value, REWRITE, host_boundaries=True) for value in inputs]
    cases = list(zip(inputs, [REWRITE] * len(inputs), results, strict=True))
    checked = run_reference(php, cases, host_boundaries=True)
    for value, result, verdict in zip(inputs, results, checked, strict=True):
        assert verdict["check_unserializes"], result
        assert result == verdict["reference"], value
