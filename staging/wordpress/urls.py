"""The production → staging URL pairs, in every form WordPress and its plugins store them."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlsplit

from staging.secrets import mask_text

from .errors import StagingUrlInvalid

UPLOADS_PATH = "/wp-content/uploads/"


def normalize_url(url: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; raises on anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise StagingUrlInvalid(
            f"{mask_text(url)!r} is not an http(s) URL of a site.", details={"url": mask_text(url)}
        )
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _json_escaped(text: str) -> str:
    # WordPress stores JSON made by wp_json_encode/json_encode, which escape "/" by default.
    return text.replace("/", "\\/")


def _url_encoded(text: str) -> str:
    # PHP's urlencode/rawurlencode spelling: upper-case hex, ":" and "/" encoded.
    return quote(text, safe="")


def _variants(url: str) -> list[str]:
    """The same site under http and https and protocol-relative, with and without ``www.``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    bare = netloc.removeprefix("www.")
    hosts = [bare, f"www.{bare}"] if not bare.replace(".", "").isdigit() else [bare]
    return [f"{scheme}//{host}{parts.path}" for scheme in ("https:", "http:", "") for host in hosts]


def url_replacements(production_url: str, staging_url: str) -> list[tuple[str, str]]:
    """Every (search, replacement) pair that moves the production URL to the staging URL.

    Plain, JSON-escaped (``https:\\/\\/``) and URL-encoded (``https%3A%2F%2F``) forms, for http,
    https and protocol-relative (``//shop.example``), with and without ``www.``, each replaced
    by the staging URL in the same form (a protocol-relative URL stays protocol-relative);
    longest first, so a URL with its scheme is rewritten before its ``//host`` part could be.
    Nothing is excluded here: the rewrite keeps uploads on production.
    """
    production = normalize_url(production_url)
    staging = normalize_url(staging_url)
    staging_relative = staging.split(":", 1)[1]
    pairs: dict[str, str] = {}
    for variant in _variants(production):
        if variant in (staging, staging_relative):
            continue
        target = staging_relative if variant.startswith("//") else staging
        pairs.setdefault(variant, target)
        pairs.setdefault(_json_escaped(variant), _json_escaped(target))
        pairs.setdefault(_url_encoded(variant), _url_encoded(target))
    ordered = sorted(pairs.items(), key=lambda pair: (-len(pair[0]), pair[0]))
    # The pairs are applied one after another; a replacement that contains a later search
    # string would be rewritten twice.
    for _, replacement in ordered:
        for search, _ in ordered:
            if search in replacement:
                raise StagingUrlInvalid(
                    f"The staging URL {staging} contains the production URL {search}; "
                    "choose a staging URL on another host.",
                    details={"staging_url": staging, "production_url": production},
                )
    return ordered


def protect_paths(
    replacements: list[tuple[str, str]], path: str = UPLOADS_PATH
) -> list[tuple[str, str]]:
    """The pairs wrapped so that URLs under ``path`` come out unchanged.

    Each search string followed by ``path`` becomes a placeholder first and is put back last;
    applied in order (in Python or as nested SQL ``REPLACE``), the pairs leave those URLs alone.
    """
    token = secrets.token_hex(8)
    protect: list[tuple[str, str]] = []
    for index, (search, _) in enumerate(replacements):
        if search.startswith(("http%3A", "https%3A", "%2F%2F")):
            protected = search + _url_encoded(path)
        elif "\\/" in search:
            protected = search + _json_escaped(path)
        else:
            protected = search + path
        protect.append((protected, f"\x1aunderstudy-kept-{token}-{index}\x1a"))
    restore = [(placeholder, protected) for protected, placeholder in reversed(protect)]
    return protect + list(replacements) + restore
