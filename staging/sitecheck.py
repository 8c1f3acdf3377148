"""Whether a staging site's answer shows a working staging copy, not just any answer.

Railway's edge answers 404 "Application not found" for a domain it cannot route, and a copied
WordPress that still believes it is production redirects every visitor there: neither is a
working staging site, though both are answers below 500. Pure functions over what the site
answered; ``health_check`` does the fetching and the waiting.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

UPLOADS_PATH = "/wp-content/uploads/"


@dataclass(frozen=True)
class Verdict:
    """``ok``: the site works. Otherwise ``problem`` says why not, and ``final`` whether waiting
    can change it (a deployment still starting can; a redirect to production cannot)."""

    ok: bool
    problem: str = ""
    final: bool = False
    note: str = ""


def judge(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    staging_url: str,
    wordpress: bool = False,
    production_hosts: Collection[str] = (),
) -> Verdict:
    staging_host = (urlsplit(staging_url).hostname or "").lower()
    if 300 <= status < 400:
        location = headers.get("location") or headers.get("Location") or ""
        target = urljoin(staging_url, location)
        target_host = (urlsplit(target).hostname or "").lower()
        if location and target_host == staging_host:
            return Verdict(ok=True, note=f"redirects within the staging site to {target}")
        return Verdict(
            ok=False,
            problem=f"answered {status}, a redirect away from staging to {target_host or '?'}",
            final=True,
        )
    if status == 404:
        return Verdict(ok=False, problem="answered 404: Railway does not serve the app there (yet)")
    if not 200 <= status < 300:
        return Verdict(ok=False, problem=f"answered {status}")
    if not wordpress:
        return Verdict(ok=True)
    if staging_host not in body.lower():
        return Verdict(
            ok=False,
            problem=f"answered {status}, but the page is not WordPress served for {staging_host}",
        )
    leaks = production_links(body, production_hosts)
    if leaks:
        shown = ", ".join(leaks[:3]) + (f" and {len(leaks) - 3} more" if len(leaks) > 3 else "")
        return Verdict(
            ok=False,
            problem=f"answered {status}, but the home page links to production: {shown}",
            final=True,
        )
    return Verdict(ok=True)


def production_links(body: str, production_hosts: Collection[str]) -> list[str]:
    """Links on the page to a production host, except uploads (served from production on
    purpose). Absolute, protocol-relative and JSON-escaped (``https:\\/\\/``) forms count."""
    found: list[str] = []
    for host in {h.lower() for h in production_hosts if h}:
        pattern = re.compile(
            r"(?:https?:)?(?:\\?/){2}" + re.escape(host) + r"(?::\d+)?(?P<path>[^\s\"'<>)]*)",
            re.IGNORECASE,
        )
        for match in pattern.finditer(body):
            path = match.group("path").replace("\\/", "/")
            if not path.startswith(UPLOADS_PATH):
                found.append(f"//{host}{path or '/'}")
    return sorted(set(found))
