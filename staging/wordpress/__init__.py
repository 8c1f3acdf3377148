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
from .masking import MaskingReport, MaskingRule, mask_columns
from .options import DEFAULT_RESET_OPTIONS, RESET_OPTION_REASONS
from .prepare import PrepareReport, prepare_wordpress
from .serialized import replace_in_value
from .site import WordPressSite, detect_site
from .urls import url_replacements

__all__ = [
    "DEFAULT_RESET_OPTIONS",
    "RESET_OPTION_REASONS",
    "DatabaseUnreachable",
    "DatabaseUrlInvalid",
    "MaskingReport",
    "MaskingRule",
    "MaskingRuleInvalid",
    "PrepareReport",
    "StagingUrlInvalid",
    "WordPressNotFound",
    "WordPressPrefixAmbiguous",
    "WordPressSite",
    "detect_site",
    "mask_columns",
    "prepare_wordpress",
    "replace_in_value",
    "url_replacements",
]
