"""The OpenAPI schema: every operation also documents the error answers it can give, in the
one error format, so that clients (and schemathesis) know their shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

MAX_ID = 10**18 - 1  # the views' lookup pattern: at most 18 digits


class ApiAutoSchema(AutoSchema):
    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._resolve_path_parameters(  # type: ignore[no-untyped-call]
            variables
        )
        for parameter in parameters:
            if parameter["name"] == "id":
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        from staging.api.serializers import ErrorSerializer

        codes = ["401", "403", "406", "429", "500"]
        has_path_id = "{" in self.path
        if has_path_id:
            codes.append("404")
        if self.method == "GET" and not has_path_id:
            codes += ["400", "404"]  # bad filters; a page past the end
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["400", "409", "415"]
        if self.method == "DELETE":
            codes.append("409")
        for code in sorted(set(codes)):
            if code not in responses:
                responses[code] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ErrorSerializer, code
                )
                responses[code]["description"] = _DESCRIPTIONS[code]
        return responses


_DESCRIPTIONS = {
    "400": "Invalid input (validation_error, parse_error, or a domain code such as invalid_name).",
    "401": "No credentials (not_authenticated) or a wrong or revoked token "
    "(authentication_failed).",
    "403": "Your role does not allow this (permission_denied).",
    "404": "No such object (not_found).",
    "406": "The Accept header asks for something other than JSON (not_acceptable).",
    "409": "Conflicts with the current state (name_taken, run_in_progress, invalid_state, "
    "idempotency_key_reused).",
    "415": "The body is not JSON (unsupported_media_type).",
    "429": "Too many requests (throttled); retry after the Retry-After header's seconds.",
    "500": "A bug on the portal's side (internal_error); it has been logged.",
}
