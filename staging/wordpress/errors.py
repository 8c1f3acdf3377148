"""Expected problems of the WordPress preparation, each with a stable code."""

from __future__ import annotations

from staging.errors import UnderstudyError


class WordPressNotFound(UnderstudyError):
    code = "wordpress_not_found"
    http_status = 422


class WordPressPrefixAmbiguous(UnderstudyError):
    code = "wordpress_prefix_ambiguous"
    http_status = 422


class MaskingRuleInvalid(UnderstudyError):
    code = "masking_rule_invalid"


class DatabaseUrlInvalid(UnderstudyError):
    code = "database_url_invalid"


class DatabaseUnreachable(UnderstudyError):
    code = "database_unreachable"
    http_status = 502


class StagingUrlInvalid(UnderstudyError):
    code = "staging_url_invalid"
