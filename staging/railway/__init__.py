"""Railway: a typed GraphQL client, and a local sandbox that answers the same operations."""

from staging.railway.client import RailwayClient
from staging.railway.errors import (
    RailwayConflict,
    RailwayDeploymentFailed,
    RailwayError,
    RailwayNotFound,
    RailwayProjectTokenGiven,
    RailwayRateLimited,
    RailwayTimeout,
    RailwayUnauthorized,
    RailwayUnavailable,
)
from staging.railway.types import (
    DEPLOYMENT_FAILED_STATUSES,
    DEPLOYMENT_SUCCEEDED,
    DatabaseEngine,
    Environment,
    Project,
    ProjectSummary,
    Service,
    ServiceDomain,
    ServiceInstance,
    TcpProxy,
    database_url,
    detect_database_engine,
)

__all__ = [
    "DEPLOYMENT_FAILED_STATUSES",
    "DEPLOYMENT_SUCCEEDED",
    "DatabaseEngine",
    "Environment",
    "Project",
    "ProjectSummary",
    "RailwayClient",
    "RailwayConflict",
    "RailwayDeploymentFailed",
    "RailwayError",
    "RailwayNotFound",
    "RailwayProjectTokenGiven",
    "RailwayRateLimited",
    "RailwayTimeout",
    "RailwayUnauthorized",
    "RailwayUnavailable",
    "Service",
    "ServiceDomain",
    "ServiceInstance",
    "TcpProxy",
    "database_url",
    "detect_database_engine",
]
