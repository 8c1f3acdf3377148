"""Preparing a copied WordPress database for staging: URLs, search engines, options, masking.

A service package: plain values in, dataclasses out, no Django models. See docs/wordpress.md.
"""

from __future__ import annotations

from .errors import (
    DatabaseUnreachable,
    DatabaseUrlInvalid,
    MaskingRuleInvalid,
    StagingUrlInvalid,
    WordPressNotFound,
    WordPressPrefixAmbiguous,
)
from .links import production_links
from .masking import MaskingReport, MaskingRule, mask_columns
from .options import (
    DEFAULT_ADJUSTMENTS,
    DEFAULT_RESET_OPTIONS,
    RESET_OPTION_REASONS,
    STAGING_VARIABLES,
    OptionAdjustment,
)
from .prepare import PrepareReport, prepare_wordpress
from .serialized import replace_in_value
from .site import WordPressSite, detect_site
from .urls import url_replacements

__all__ = [
    "DEFAULT_ADJUSTMENTS",
    "DEFAULT_RESET_OPTIONS",
    "RESET_OPTION_REASONS",
    "STAGING_VARIABLES",
    "DatabaseUnreachable",
    "DatabaseUrlInvalid",
    "MaskingReport",
    "MaskingRule",
    "MaskingRuleInvalid",
    "OptionAdjustment",
    "PrepareReport",
    "StagingUrlInvalid",
    "WordPressNotFound",
    "WordPressPrefixAmbiguous",
    "WordPressSite",
    "detect_site",
    "mask_columns",
    "prepare_wordpress",
    "production_links",
    "replace_in_value",
    "url_replacements",
]
