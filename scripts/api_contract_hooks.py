"""schemathesis hooks for scripts/api_contract.sh: numbers written in digits that are not ASCII.

Hypothesis draws strings from the whole of Unicode, so a value made only of digits of another
script almost never comes up, yet it is exactly what slips through ``str.isdigit()`` and
``int()``: ``{"site": "³"}`` once made POST /api/v1/environments/ answer 500, and "٣" was read
as 3. These hooks give each request a chance to carry such a value in one of its body fields or
query parameters. The choice is drawn by Hypothesis, so a fixed seed keeps it reproducible.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

# Superscripts and circled digits pass str.isdigit() but make int() raise; Arabic-Indic,
# Devanagari and fullwidth digits are read by int() as the ASCII ones.
OTHER_DIGITS = "¹²³①②③٠١٢٣٤٥٦٧٨٩۰۱۲۳०१२३０１２３"
other_digits = st.text(alphabet=OTHER_DIGITS, min_size=1, max_size=3)


def _with_other_digits(values: Any) -> st.SearchStrategy[Any]:
    if not isinstance(values, dict):
        return st.just(values)
    names = [
        name
        for name, value in values.items()
        if isinstance(value, str | int) and not isinstance(value, bool)
    ]
    if not names:
        return st.just(values)
    rewritten = st.tuples(st.sampled_from(names), other_digits).map(
        lambda change: {**values, change[0]: change[1]}
    )
    return st.one_of(st.just(values), rewritten)


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return _with_other_digits(body)


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    return _with_other_digits(query)
