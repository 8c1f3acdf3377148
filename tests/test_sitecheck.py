"""What counts as a working staging site: the health check's judgement of one answer."""

from __future__ import annotations

import pytest

from staging.sitecheck import judge, production_links

STAGING = "https://bakery-staging-1a2b.up.railway.app"
PRODUCTION = "bakery.example"


def page(*links: str) -> str:
    anchors = "".join(f'<a href="{link}">x</a>' for link in links)
    return f'<html><link rel="canonical" href="{STAGING}/">{anchors}</html>'


def wordpress(body: str, status: int = 200):
    return judge(
        status, {}, body, staging_url=STAGING, wordpress=True, production_hosts=[PRODUCTION]
    )


def test_a_2xx_is_healthy():
    assert judge(200, {}, "ok", staging_url=STAGING).ok


@pytest.mark.parametrize("status", [404, 500, 502, 503])
def test_a_404_or_a_5xx_is_not_healthy_but_may_change_while_railway_starts_the_app(status):
    verdict = judge(status, {}, "", staging_url=STAGING)
    assert not verdict.ok and not verdict.final and str(status) in verdict.problem


@pytest.mark.parametrize(
    "location", ["/wp-login.php", f"{STAGING}/shop/", "http://bakery-staging-1a2b.up.railway.app/"]
)
def test_a_redirect_that_stays_on_the_staging_host_is_healthy(location):
    assert judge(302, {"location": location}, "", staging_url=STAGING).ok


@pytest.mark.parametrize("location", [f"https://{PRODUCTION}/", "//evil.example/", ""])
def test_a_redirect_elsewhere_fails_at_once(location):
    verdict = judge(301, {"location": location}, "", staging_url=STAGING)
    assert not verdict.ok and verdict.final


def test_a_wordpress_page_linking_to_production_fails_in_every_spelling():
    for link in (
        f"https://{PRODUCTION}/faq/",
        f"//{PRODUCTION}/faq/",
        f"http://{PRODUCTION}:443/faq/",
    ):
        verdict = wordpress(page(link))
        assert not verdict.ok and verdict.final and "/faq/" in verdict.problem, link
    escaped = page() + '<script>var u = "https:\\/\\/bakery.example\\/cart\\/";</script>'
    assert not wordpress(escaped).ok


def test_uploads_may_stay_on_production():
    assert wordpress(page(f"https://{PRODUCTION}/wp-content/uploads/2026/01/cake.jpg")).ok
    assert production_links(page(f"//{PRODUCTION}/wp-content/uploads/a.png"), [PRODUCTION]) == []


def test_a_wordpress_page_not_served_for_the_staging_host_is_not_healthy():
    verdict = wordpress("<html><h1>Bakery</h1></html>")
    assert not verdict.ok and "not WordPress served for" in verdict.problem
