"""A real WordPress production site, cloned by the pipeline and used in Chromium on staging."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Page

from staging.wordpress import production_links
from tests.wordpress_site.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    STAGING_OVERRIDES,
    UPLOADS,
    PhpServer,
    StagingCopy,
    mysql_connection,
)

# The portal rows the module's clone wrote are flushed after each (transactional) test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# A GUID is an identifier, never rewritten (WordPress's rule); feeds and the REST API show it.
GUIDS = re.compile(r'<guid isPermaLink="false">[^<]*</guid>|"guid":\{"rendered":"[^"]*"\}')


def links_to_production_outside_uploads(text: str, production_domain: str) -> list[str]:
    """Each mention of the production host, in any spelling a page may use (plain, ``\\/``
    JSON-escaped, URL-encoded), whose path is not under the uploads; GUIDs aside."""
    text = GUIDS.sub("", text)
    found = []
    for match in re.finditer(re.escape(production_domain), text, flags=re.IGNORECASE):
        following = text[match.end() : match.end() + 80]
        path = unquote(following.replace("\\/", "/"))
        path = re.sub(r"^:\d+", "", path)
        if not path.startswith(UPLOADS):
            found.append(text[max(match.start() - 40, 0) : match.end() + 40])
    return found


def sandbox_hosts(urls: list[str]) -> list[tuple[str, str]]:
    """(host, path) of the URLs that point at a site of the Railway sandbox."""
    return [
        (parts.hostname or "", parts.path)
        for parts in map(urlsplit, urls)
        if (parts.hostname or "").endswith(".up.railway.localhost")
    ]


def scheme_relative(url: str) -> str:
    """``http://host:port`` as a protocol-relative link writes it: ``//host:port``."""
    return url.split(":", 1)[1]


def log_in(page: Page, staging_url: str, username: str, password: str) -> None:
    page.goto(f"{staging_url}/wp-login.php")
    page.fill("#user_login", username)
    page.fill("#user_pass", password)
    page.click("#wp-submit")
    page.wait_for_url(f"{staging_url}/wp-admin/**")


def test_the_staging_home_page_links_to_staging_and_keeps_uploads_on_production(
    staging_copy: StagingCopy, page: Page
) -> None:
    response = page.goto(f"{staging_copy.staging_url}/")

    assert response is not None and response.status == 200
    assert urlsplit(page.url).hostname == staging_copy.staging_domain
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(link => link.href)")
    assert f"{staging_copy.staging_url}/spring-menu/" in hrefs
    assert f"{staging_copy.staging_url}/about/" in hrefs
    for host, path in sandbox_hosts(hrefs):
        assert host == staging_copy.staging_domain or (
            host == staging_copy.production_domain and path.startswith(UPLOADS)
        ), f"{host}{path} on the staging home page"


def test_images_of_a_staging_post_load_from_the_production_uploads(
    staging_copy: StagingCopy, page: Page
) -> None:
    page.goto(f"{staging_copy.staging_url}/spring-menu/")

    images = page.eval_on_selector_all(
        "main img, .wp-block-post-content img",
        "images => images.map(image => [image.src, image.complete && image.naturalWidth > 0])",
    )
    teapot = f"{staging_copy.production_url}/wp-content/uploads/2026/01/teapot.png"
    assert [teapot, True] in images, images
    menu = page.get_by_role("link", name="The menu (PDF)")
    assert menu.get_attribute("href") == (
        f"{staging_copy.production_url}/wp-content/uploads/2026/01/menu.pdf"
    )
    assert page.get_by_role("link", name="about us").get_attribute("href") == (
        f"{staging_copy.staging_url}/about/"
    )


def test_no_public_page_of_the_staging_copy_names_the_production_host_except_uploads(
    staging_copy: StagingCopy, page: Page
) -> None:
    for path in ("/", "/spring-menu/", "/about/", "/feed/", "/wp-json/wp/v2/posts"):
        response = page.goto(f"{staging_copy.staging_url}{path}")
        assert response is not None and response.status == 200, path

        html = response.text()

        assert staging_copy.staging_domain in html, path
        assert links_to_production_outside_uploads(html, staging_copy.production_domain) == [], path
        assert production_links(html, staging_copy.production_domain) == [], path


def test_protocol_relative_links_of_production_point_to_staging_after_the_clone(
    staging_copy: StagingCopy, page: Page
) -> None:
    page.goto(f"{staging_copy.staging_url}/about/")

    link = page.get_by_role("link", name="the menu without a scheme")
    assert link.get_attribute("href") == f"{scheme_relative(staging_copy.staging_url)}/spring-menu/"
    teapot = page.get_by_role("img", name="A protocol-relative teapot")
    assert teapot.get_attribute("src") == (
        f"{scheme_relative(staging_copy.production_url)}/wp-content/uploads/2026/01/teapot.png"
    )
    link.click()
    page.wait_for_url(f"{staging_copy.staging_url}/spring-menu/")
    assert urlsplit(page.url).hostname == staging_copy.staging_domain


def test_a_production_administrator_logs_in_to_wp_admin_and_stays_on_the_staging_host(
    staging_copy: StagingCopy, page: Page
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    log_in(page, staging_copy.staging_url, ADMIN_USER, ADMIN_PASSWORD)

    assert urlsplit(page.url).hostname == staging_copy.staging_domain
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    for path in ("/wp-admin/", "/wp-admin/edit.php", "/wp-admin/options-general.php"):
        response = page.goto(f"{staging_copy.staging_url}{path}")
        assert response is not None and response.status == 200, path
        html = response.text()
        assert links_to_production_outside_uploads(html, staging_copy.production_domain) == [], path
    for host, path in sandbox_hosts(requested):
        assert host == staging_copy.staging_domain or (
            host == staging_copy.production_domain and path.startswith(UPLOADS)
        ), f"the browser went to {host}{path}"


def test_wp_admin_on_staging_shows_the_users_emails_masked(
    staging_copy: StagingCopy, page: Page
) -> None:
    log_in(page, staging_copy.staging_url, ADMIN_USER, ADMIN_PASSWORD)

    page.goto(f"{staging_copy.staging_url}/wp-admin/users.php")

    emails = page.locator("td.column-email").all_inner_texts()
    assert len(emails) == 4
    assert all(re.fullmatch(r"user-[0-9a-f]{12}@example\.invalid", e.strip()) for e in emails)
    html = page.content()
    for original in ("alice.walker@gmail.com", "bob.jones@outlook.com", "Alice Walker"):
        assert original not in html


def test_the_staging_database_is_masked_discouraged_and_reset(staging_copy: StagingCopy) -> None:
    with mysql_connection(staging_copy.staging_database_url) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT user_login, user_email FROM wp_users ORDER BY ID")
        users = dict(cursor.fetchall())
        cursor.execute(
            "SELECT option_name, option_value FROM wp_options WHERE option_name IN "
            "('home', 'siteurl', 'blog_public', 'wordpress_api_key', 'admin_email')"
        )
        options = dict(cursor.fetchall())

    assert ADMIN_USER in users, "administrators keep their user name"
    assert "alice" not in users and "bob" not in users
    assert all(email.endswith("@example.invalid") for email in users.values())
    assert options == {
        "home": staging_copy.staging_url,
        "siteurl": staging_copy.staging_url,
        "blog_public": "0",
        "admin_email": users[ADMIN_USER],
    }


def test_wordpress_on_staging_loads_its_mail_plugin_settings_with_sending_off(
    staging_copy: StagingCopy, php_server: PhpServer
) -> None:
    settings = php_server.wordpress_value(staging_copy.staging_domain, "get_option('wp_mail_smtp')")

    assert settings["general"]["do_not_send"] is True
    assert settings["mail"]["mailer"] == "mail"
    assert settings["smtp"] == {"host": "mail-sink.invalid", "pass": ""}


def test_serialized_options_of_the_staging_copy_are_rewritten_and_still_load_in_wordpress(
    staging_copy: StagingCopy, php_server: PhpServer
) -> None:
    widgets = php_server.wordpress_value(staging_copy.staging_domain, "get_option('widget_text')")
    settings = php_server.wordpress_value(
        staging_copy.staging_domain, "get_option('tearoom_settings')"
    )

    assert widgets["2"]["text"] == f'<a href="{staging_copy.staging_url}/about/">Opening hours</a>'
    assert settings == {
        "shop_url": f"{staging_copy.staging_url}/shop/",
        "links": {
            "about": f"{staging_copy.staging_url}/about/",
            "logo": f"{staging_copy.production_url}/wp-content/uploads/2026/01/teapot.png",
            "faq": f"{scheme_relative(staging_copy.staging_url)}/faq/",
        },
        "card": {"home": staging_copy.staging_url},
    }


def test_the_staging_overrides_are_set_on_the_staging_app_only(staging_copy: StagingCopy) -> None:
    staging = staging_copy.staging_app_variables
    production = staging_copy.production_app_variables

    assert {name: staging.get(name) for name in STAGING_OVERRIDES} == STAGING_OVERRIDES
    assert not set(STAGING_OVERRIDES) & set(production)


def test_the_production_site_is_left_as_it_was(
    staging_copy: StagingCopy, php_server: PhpServer
) -> None:
    home = php_server.wordpress_value(
        staging_copy.production_domain,
        "[get_option('home'), get_option('blog_public'), get_option('wordpress_api_key'),"
        " get_userdata(get_user_by('login', 'alice')->ID)->user_email]",
    )

    assert home == [staging_copy.production_url, "1", "live-akismet-key", "alice.walker@gmail.com"]


def test_the_clone_ran_every_step_through_the_worker(
    staging_copy: StagingCopy, record_property: Callable[[str, object], None]
) -> None:
    record_property("clone_seconds", round(staging_copy.clone_seconds, 2))
    record_property("step_seconds", staging_copy.step_seconds)
    # The timings the closing report quotes (shown with -s).
    print(
        f"\nclone {staging_copy.clone_seconds:.1f} s; steps {staging_copy.step_seconds}; "
        f"metrics {staging_copy.run_metrics}"
    )

    assert list(staging_copy.step_seconds) == [
        "preflight",
        "create_environment",
        "configure_staging",
        "start_database",
        "expose_database",
        "assign_domain",
        "copy_database",
        "prepare_site",
        "deploy_app",
        "health_check",
    ]
    assert f"{staging_copy.staging_url} answered 200" in staging_copy.step_logs["health_check"]
    assert staging_copy.run_metrics["masking"]["preset"] == "wordpress"
