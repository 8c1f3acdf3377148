#!/usr/bin/env bash
# The API against its own OpenAPI schema: schemathesis sends generated requests (valid and
# invalid) to every operation of a live, throwaway portal and fails on any 5xx or any answer that
# does not match the schema. About a minute and a half.
#
#     scripts/api_contract.sh [schemathesis options]
#
# One worker: with more, hypothesis' ast.parse calls race on CPython 3.11.7 ("SystemError: AST
# constructor recursion depth mismatch").
set -euo pipefail
cd "$(dirname "$0")/.."

# From a scratch directory, so schemathesis' example database (.schemathesis/) is not left behind.
exec .venv/bin/python scripts/live_portal.py -- bash -c '
  root=$PWD
  scratch=$(mktemp -d)
  trap "rm -rf \"$scratch\"" EXIT
  cd "$scratch"
  "$root/.venv/bin/schemathesis" run "$UNDERSTUDY_URL/api/schema/" \
    --url "$UNDERSTUDY_URL" \
    --header "Authorization: Bearer $UNDERSTUDY_TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${API_CONTRACT_MAX_EXAMPLES:-40}" \
    --max-time "${API_CONTRACT_MAX_TIME:-80}" \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --warnings off \
    "$@"
' api_contract "$@"
