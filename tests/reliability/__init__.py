"""The reliability suite (issue 10): faults, load, hostile input, secrets, a guard.

Every test here is marked ``@pytest.mark.reliability``; ``scripts/reliability_report.py`` runs
them (``pytest -m reliability``) and writes ``docs/reliability.md`` from what each test records
with pytest's ``record_property``. The convention, one property per name:

- ``category``: ``"fault"``, ``"load"``, ``"input"``, ``"secrets"``, ``"guard"`` or
  ``"hostile"`` (required; a test without it is listed under "other").
- ``case``: what was tried, in a few words, e.g. ``"Railway 429 storm"`` or
  ``"a name of 5,000 characters"``.
- ``outcome``: how it ended, in a few words, e.g. ``"succeeded after 14 rate-limited calls"``
  or ``"rejected with 400 invalid_name"``.
- ``figures``: ``json.dumps`` of a flat dict of numbers or short strings worth printing, e.g.
  ``{"clones": 20, "p95_seconds": 41.2}``. For ``secrets``, ``{"secrets_found": 0, ...}``; for
  ``hostile``, ``refused_with``, ``nothing_read_or_written`` and ``seconds_to_fail``.

Record ``category`` and ``case`` first, so a test that fails half-way is still listed by name.
"""
