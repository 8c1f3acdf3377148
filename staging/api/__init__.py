"""The REST API under /api/v1/: thin views over ``staging.runs``; see docs/api.md."""
