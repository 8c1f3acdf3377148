"""Railway failures, each an ``UnderstudyError`` with a stable code (listed in docs/errors.md)."""

from __future__ import annotations

from staging.errors import UnderstudyError


class RailwayError(UnderstudyError):
    """Railway refused or failed a request for a reason not covered below."""

    code = "railway_error"
    http_status = 502


class RailwayUnauthorized(RailwayError):
    """The token is invalid, expired, or has no access to the resource."""

    code = "railway_unauthorized"
    http_status = 502


class RailwayProjectTokenGiven(RailwayUnauthorized):
    """A project token was configured where an account or workspace token is needed."""

    code = "railway_project_token"


class RailwayNotFound(RailwayError):
    code = "railway_not_found"
    http_status = 404


class RailwayConflict(RailwayError):
    """The name is already taken (Railway's messages say "unique" or "already exists")."""

    code = "railway_name_taken"
    http_status = 409


class RailwayRateLimited(RailwayError):
    code = "railway_rate_limited"
    http_status = 503


class RailwayUnavailable(RailwayError):
    """Railway did not answer usefully (5xx, timeout, dropped connection) after retries."""

    code = "railway_unavailable"
    http_status = 503


class RailwayDeploymentFailed(RailwayError):
    code = "railway_deployment_failed"


class RailwayTimeout(RailwayError):
    """Railway answered, but what we waited for (a deployment, an apply) took too long."""

    code = "railway_timeout"
    http_status = 504


class RailwayUnexpectedResponse(RailwayError):
    """Railway answered, but without a field the client reads, or with another type."""

    code = "railway_unexpected_response"
