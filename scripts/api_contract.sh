#!/usr/bin/env bash
# The API against its own OpenAPI schema: schemathesis sends generated requests (valid and
# invalid) to every operation of a live, throwaway portal and fails on any 5xx or any answer that
# does not match the schema. About two minutes; the exit code is schemathesis' own.
#
#     scripts/api_contract.sh [schemathesis options]
#
# The same requests every run: a fixed seed, a fixed number of examples per operation and no
# time budget (with --max-time, how much is tried would depend on the machine's speed), and no
# example database carried between runs. API_CONTRACT_SEED tries other requests. The hooks in
# api_contract_hooks.py also send numbers written in other scripts' digits ("³", "٣"), which
# random Unicode almost never spells and which once made POST /api/v1/environments/ answer
# 500; with this seed, the run finds that 500 on the code before its fix.
#
# One worker: with more, hypothesis' ast.parse calls race on CPython 3.11.7 ("SystemError: AST
# constructor recursion depth mismatch").
set -euo pipefail
cd "$(dirname "$0")/.."

# From a scratch directory, so schemathesis' example database (.schemathesis/) is not left behind.
# A queued run's event stream lasts until RUN_EVENTS_MAX_SECONDS (no worker runs here).
export RUN_EVENTS_MAX_SECONDS=2
exec .venv/bin/python scripts/live_portal.py -- bash -c '
  root=$PWD
  scratch=$(mktemp -d)
  trap "rm -rf \"$scratch\"" EXIT
  cd "$scratch"
  SCHEMATHESIS_HOOKS="$root/scripts/api_contract_hooks.py" "$root/.venv/bin/schemathesis" run "$UNDERSTUDY_URL/api/schema/" \
    --url "$UNDERSTUDY_URL" \
    --header "Authorization: Bearer $UNDERSTUDY_TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --seed "${API_CONTRACT_SEED:-13}" \
    --max-examples "${API_CONTRACT_MAX_EXAMPLES:-100}" \
    --generation-database none \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --warnings off \
    "$@"
' api_contract "$@"
