"""The demo seed: two client sites with realistic production data.

"Bakery Co" is WordPress on MariaDB, with WordPress's own table layout and the things that make
a URL rewrite hard: PHP-serialized options holding the site URL, upload URLs in post content.
"Ledger App" is an app on Postgres with a few thousand rows, indexes and a sequence.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from railway_sandbox.databases import database_name

if TYPE_CHECKING:
    from railway_sandbox.server import Sandbox, SandboxProject

BAKERY = "Bakery Co"
LEDGER = "Ledger App"


def seed_demo(sandbox: Sandbox) -> list[SandboxProject]:
    """Add both demo projects unless they exist already (so the seed can run on every start)."""
    projects = []
    for name, build in ((BAKERY, _bakery), (LEDGER, _ledger)):
        existing = sandbox.project_named(name)
        projects.append(sandbox.describe(existing) if existing else build(sandbox))
    return projects


def _bakery(sandbox: Sandbox) -> SandboxProject:
    project = sandbox.add_project(
        BAKERY,
        engine="mariadb",
        wordpress=True,
        database_name_override=database_name(sandbox.database_prefix, "bakery", "production"),
    )
    from railway_sandbox import site

    backing = (
        sandbox.world.projects[project.project_id]
        .environments[project.production_environment_id]
        .instances[project.database_service_id]
        .database
    )
    assert backing is not None
    site.run_sql(sandbox.servers, backing, WORDPRESS_SCHEMA)
    with sandbox.servers.connect_mysql(backing) as conn, conn.cursor() as cursor:
        for table, columns, rows in wordpress_content(f"https://{project.app_domain}"):
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )
    return project


def _ledger(sandbox: Sandbox) -> SandboxProject:
    return sandbox.add_project(
        LEDGER,
        engine="postgres",
        app_name="Ledger",
        app_image="ghcr.io/acme/ledger:latest",
        production_data_sql=LEDGER_SQL,
        database_name_override=database_name(sandbox.database_prefix, "ledger", "production"),
    )


def php_serialize(value: Any) -> str:
    """PHP's serialize() for the types WordPress options hold (lengths are in UTF-8 bytes)."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode())}:"{value}";'
    if isinstance(value, list | tuple):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        items = "".join(php_serialize(k) + php_serialize(v) for k, v in value.items())
        return f"a:{len(value)}:{{{items}}}"
    raise TypeError(f"cannot serialize {type(value).__name__}")


WORDPRESS_SCHEMA = """
CREATE TABLE wp_options (
  option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name), KEY autoload (autoload)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_users (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  user_login varchar(60) NOT NULL DEFAULT '', user_pass varchar(255) NOT NULL DEFAULT '',
  user_nicename varchar(50) NOT NULL DEFAULT '', user_email varchar(100) NOT NULL DEFAULT '',
  user_url varchar(100) NOT NULL DEFAULT '',
  user_registered datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  user_activation_key varchar(255) NOT NULL DEFAULT '', user_status int(11) NOT NULL DEFAULT 0,
  display_name varchar(250) NOT NULL DEFAULT '',
  PRIMARY KEY (ID), KEY user_login_key (user_login), KEY user_nicename (user_nicename),
  KEY user_email (user_email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_usermeta (
  umeta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  user_id bigint(20) unsigned NOT NULL DEFAULT 0, meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (umeta_id), KEY user_id (user_id), KEY meta_key (meta_key(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_posts (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint(20) unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL, post_title text NOT NULL, post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  comment_status varchar(20) NOT NULL DEFAULT 'open',
  ping_status varchar(20) NOT NULL DEFAULT 'open', post_password varchar(255) NOT NULL DEFAULT '',
  post_name varchar(200) NOT NULL DEFAULT '', to_ping text NOT NULL, pinged text NOT NULL,
  post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_modified_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content_filtered longtext NOT NULL, post_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  guid varchar(255) NOT NULL DEFAULT '', menu_order int(11) NOT NULL DEFAULT 0,
  post_type varchar(20) NOT NULL DEFAULT 'post', post_mime_type varchar(100) NOT NULL DEFAULT '',
  comment_count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (ID), KEY post_name (post_name(191)),
  KEY type_status_date (post_type, post_status, post_date, ID), KEY post_parent (post_parent),
  KEY post_author (post_author)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_postmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0, meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id), KEY post_id (post_id), KEY meta_key (meta_key(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_comments (
  comment_ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_post_ID bigint(20) unsigned NOT NULL DEFAULT 0, comment_author tinytext NOT NULL,
  comment_author_email varchar(100) NOT NULL DEFAULT '',
  comment_author_url varchar(200) NOT NULL DEFAULT '',
  comment_author_IP varchar(100) NOT NULL DEFAULT '',
  comment_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  comment_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  comment_content text NOT NULL, comment_karma int(11) NOT NULL DEFAULT 0,
  comment_approved varchar(20) NOT NULL DEFAULT '1',
  comment_agent varchar(255) NOT NULL DEFAULT '',
  comment_type varchar(20) NOT NULL DEFAULT 'comment',
  comment_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  user_id bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (comment_ID), KEY comment_post_ID (comment_post_ID),
  KEY comment_approved_date_gmt (comment_approved, comment_date_gmt),
  KEY comment_date_gmt (comment_date_gmt), KEY comment_parent (comment_parent),
  KEY comment_author_email (comment_author_email(10))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_commentmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_id bigint(20) unsigned NOT NULL DEFAULT 0, meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id), KEY comment_id (comment_id), KEY meta_key (meta_key(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_terms (
  term_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  name varchar(200) NOT NULL DEFAULT '', slug varchar(200) NOT NULL DEFAULT '',
  term_group bigint(10) NOT NULL DEFAULT 0,
  PRIMARY KEY (term_id), KEY slug (slug(191)), KEY name (name(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_term_taxonomy (
  term_taxonomy_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  term_id bigint(20) unsigned NOT NULL DEFAULT 0, taxonomy varchar(32) NOT NULL DEFAULT '',
  description longtext NOT NULL, parent bigint(20) unsigned NOT NULL DEFAULT 0,
  count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (term_taxonomy_id), UNIQUE KEY term_id_taxonomy (term_id, taxonomy),
  KEY taxonomy (taxonomy)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_term_relationships (
  object_id bigint(20) unsigned NOT NULL DEFAULT 0,
  term_taxonomy_id bigint(20) unsigned NOT NULL DEFAULT 0,
  term_order int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (object_id, term_taxonomy_id), KEY term_taxonomy_id (term_taxonomy_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
CREATE TABLE wp_links (
  link_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  link_url varchar(255) NOT NULL DEFAULT '', link_name varchar(255) NOT NULL DEFAULT '',
  link_image varchar(255) NOT NULL DEFAULT '', link_target varchar(25) NOT NULL DEFAULT '',
  link_description varchar(255) NOT NULL DEFAULT '',
  link_visible varchar(20) NOT NULL DEFAULT 'Y', link_owner bigint(20) unsigned NOT NULL DEFAULT 1,
  link_rating int(11) NOT NULL DEFAULT 0,
  link_updated datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  link_rel varchar(255) NOT NULL DEFAULT '', link_notes mediumtext NOT NULL,
  link_rss varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (link_id), KEY link_visible (link_visible)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
"""

_BREADS = ["Sourdough", "Rye", "Brioche", "Focaccia", "Baguette", "Ciabatta", "Challah", "Pretzel"]
_WORDS = [
    "crumb",
    "crust",
    "levain",
    "proof",
    "oven",
    "flour",
    "butter",
    "lamination",
    "hydration",
    "starter",
    "scoring",
    "steam",
    "autolyse",
    "knead",
    "rest",
    "glaze",
    "almond",
    "cardamom",
]
_PEOPLE = [
    ("amelie", "Amélie Durand"),
    ("tom", "Tom Baker"),
    ("priya", "Priya Natarajan"),
    ("jonas", "Jonas Weiß"),
    ("mia", "Mia O'Connor"),
    ("kenji", "Kenji Sato"),
]


def wordpress_content(site_url: str) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """Rows for each WordPress table; the site URL appears where WordPress puts it."""
    rng = random.Random(20260801)  # noqa: S311 (demo content, not secrets)
    start = datetime(2024, 3, 1, 8, 0)
    uploads = f"{site_url}/wp-content/uploads"
    options = {
        "siteurl": site_url,
        "home": site_url,
        "blogname": "Bakery Co",
        "blogdescription": "Bread, pastry and patience since 1987",
        "admin_email": "hello@bakery.example",
        "blog_public": "1",
        "permalink_structure": "/%year%/%monthnum%/%postname%/",
        "template": "twentytwentyfour",
        "stylesheet": "twentytwentyfour",
        "upload_url_path": "",
        "widget_text": php_serialize(
            {
                2: {
                    "title": "Visit us",
                    "text": f'<a href="{site_url}/contact/">Find the shop</a> '
                    f'<img src="{uploads}/2026/01/shopfront.jpg">',
                    "filter": True,
                    "visual": True,
                },
                "_multiwidget": 1,
            }
        ),
        "theme_mods_twentytwentyfour": php_serialize(
            {
                "custom_logo": 12,
                "header_image": f"{uploads}/2026/01/header-loaves.jpg",
                "header_image_data": {
                    "url": f"{uploads}/2026/01/header-loaves.jpg",
                    "thumbnail_url": f"{uploads}/2026/01/header-loaves-150x150.jpg",
                    "width": 1600,
                    "height": 500,
                },
                "nav_menu_locations": {"primary": 3, "footer": 4},
            }
        ),
        "bakery_booking_settings": php_serialize(
            {
                "version": "3.2.1",
                "endpoints": {
                    "callback": f"{site_url}/wp-json/bakery-booking/v1/callback",
                    "success": f"{site_url}/order/thank-you/",
                    "cancel": f"{site_url}/order/",
                },
                "slots": [
                    {"day": "saturday", "from": "08:00", "to": "12:00", "capacity": 40},
                    {"day": "sunday", "from": "09:00", "to": "11:30", "capacity": 25},
                ],
                "stripe": {"mode": "live", "publishable_key": "pk_live_51Hbakery0000"},
                "notify": ["orders@bakery.example", "kitchen@bakery.example"],
            }
        ),
        "active_plugins": php_serialize(
            ["bakery-booking/bakery-booking.php", "wordpress-seo/wp-seo.php"]
        ),
        "wp_user_roles": php_serialize(
            {
                "administrator": {
                    "name": "Administrator",
                    "capabilities": {"manage_options": True},
                },
                "editor": {"name": "Editor", "capabilities": {"edit_posts": True}},
            }
        ),
    }
    option_rows = [(k, v, "yes") for k, v in options.items()]

    users = [
        (
            i + 1,
            login,
            "$P$BkV0Xh8m3n9Jtq5dRz1yJ0a7Vq4eW1.",
            login,
            f"{login}@bakery.example",
            site_url if i == 0 else "",
            (start - timedelta(days=400 - i)).strftime("%Y-%m-%d %H:%M:%S"),
            name,
        )
        for i, (login, name) in enumerate(_PEOPLE)
    ]
    usermeta = []
    for user_id, *_ in users:
        role = "administrator" if user_id == 1 else "editor"
        usermeta += [
            (user_id, "wp_capabilities", php_serialize({role: True})),
            (user_id, "nickname", _PEOPLE[user_id - 1][0]),
            (user_id, "billing_phone", f"+44 20 7946 {rng.randint(1000, 9999)}"),
        ]

    posts, postmeta, comments, relationships = [], [], [], []
    for n in range(320):
        post_id = n + 1
        kind = "page" if n % 16 == 0 else "post"
        bread = rng.choice(_BREADS)
        title = f"{bread}: {' '.join(rng.sample(_WORDS, 3))} ({n + 1})"
        date = start + timedelta(hours=n * 37)
        stamp = date.strftime("%Y-%m-%d %H:%M:%S")
        image = f"{uploads}/2026/{(n % 12) + 1:02d}/{bread.lower()}-{n}.jpg"
        content = (
            f"<!-- wp:paragraph --><p>{' '.join(rng.choices(_WORDS, k=60))}.</p>"
            f'<!-- /wp:paragraph --><!-- wp:image --><figure><img src="{image}" '
            f'alt="{bread}"></figure><!-- /wp:image --><p>More at '
            f'<a href="{site_url}/shop/{bread.lower()}/">{site_url}/shop/{bread.lower()}/</a></p>'
        )
        slug = f"{bread.lower()}-{n + 1}"
        posts.append(
            (
                post_id,
                1 + n % len(_PEOPLE),
                stamp,
                stamp,
                content,
                title,
                "",
                "publish",
                slug,
                stamp,
                stamp,
                f"{site_url}/?p={post_id}",
                kind,
                "",
                "",
                "",
                0,
            )
        )
        postmeta += [
            (post_id, "_edit_last", "1"),
            (post_id, "_thumbnail_id", str(1000 + n)),
            (post_id, "_bakery_gallery", php_serialize([image, image.replace(".jpg", "-2.jpg")])),
        ]
        if kind == "post":
            relationships.append((post_id, 1 + n % 4, 0))
            for c in range(n % 4):
                who = rng.choice(_PEOPLE)
                comments.append(
                    (
                        post_id,
                        who[1],
                        f"{who[0]}+{c}@example.net",
                        "",
                        f"203.0.113.{c + 10}",
                        stamp,
                        stamp,
                        f"Lovely {bread.lower()}, the {rng.choice(_WORDS)} is perfect.",
                        "1",
                        "Mozilla/5.0",
                        "comment",
                        0,
                        0,
                    )
                )
    commentmeta = [(i + 1, "akismet_result", "false") for i in range(0, len(comments), 3)]
    terms = [
        (1, "Bread", "bread"),
        (2, "Pastry", "pastry"),
        (3, "News", "news"),
        (4, "Recipes", "recipes"),
        (5, "Primary", "primary"),
    ]
    taxonomy = [(t[0], t[0], "category" if t[0] < 5 else "nav_menu", "", 0, 80) for t in terms]
    links = [
        (
            f"{site_url}/friends/",
            "Friends of Bakery Co",
            "",
            "",
            "",
            "Y",
            1,
            0,
            "2025-01-01 00:00:00",
            "",
            "",
            "",
        )
    ]

    post_columns = [
        "ID",
        "post_author",
        "post_date",
        "post_date_gmt",
        "post_content",
        "post_title",
        "post_excerpt",
        "post_status",
        "post_name",
        "post_modified",
        "post_modified_gmt",
        "guid",
        "post_type",
        "to_ping",
        "pinged",
        "post_content_filtered",
        "comment_count",
    ]
    return [
        ("wp_options", ["option_name", "option_value", "autoload"], option_rows),
        (
            "wp_users",
            [
                "ID",
                "user_login",
                "user_pass",
                "user_nicename",
                "user_email",
                "user_url",
                "user_registered",
                "display_name",
            ],
            users,
        ),
        ("wp_usermeta", ["user_id", "meta_key", "meta_value"], usermeta),
        ("wp_posts", post_columns, posts),
        ("wp_postmeta", ["post_id", "meta_key", "meta_value"], postmeta),
        (
            "wp_comments",
            [
                "comment_post_ID",
                "comment_author",
                "comment_author_email",
                "comment_author_url",
                "comment_author_IP",
                "comment_date",
                "comment_date_gmt",
                "comment_content",
                "comment_approved",
                "comment_agent",
                "comment_type",
                "comment_parent",
                "user_id",
            ],
            comments,
        ),
        ("wp_commentmeta", ["comment_id", "meta_key", "meta_value"], commentmeta),
        ("wp_terms", ["term_id", "name", "slug"], terms),
        (
            "wp_term_taxonomy",
            ["term_taxonomy_id", "term_id", "taxonomy", "description", "parent", "count"],
            taxonomy,
        ),
        ("wp_term_relationships", ["object_id", "term_taxonomy_id", "term_order"], relationships),
        (
            "wp_links",
            [
                "link_url",
                "link_name",
                "link_image",
                "link_target",
                "link_description",
                "link_visible",
                "link_owner",
                "link_rating",
                "link_updated",
                "link_rel",
                "link_notes",
                "link_rss",
            ],
            links,
        ),
    ]


LEDGER_SQL = """
CREATE SEQUENCE invoice_number_seq START 10001;
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  country char(2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE invoices (
  id bigserial PRIMARY KEY,
  number bigint NOT NULL DEFAULT nextval('invoice_number_seq') UNIQUE,
  customer_id bigint NOT NULL REFERENCES customers(id),
  issued_on date NOT NULL,
  status text NOT NULL CHECK (status IN ('draft', 'sent', 'paid', 'void')),
  total_cents bigint NOT NULL
);
CREATE INDEX invoices_customer_idx ON invoices (customer_id);
CREATE INDEX invoices_status_issued_idx ON invoices (status, issued_on);
CREATE TABLE invoice_lines (
  id bigserial PRIMARY KEY,
  invoice_id bigint NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
  description text NOT NULL,
  quantity integer NOT NULL,
  unit_cents bigint NOT NULL
);
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id);
INSERT INTO customers (name, email, country, created_at)
  SELECT 'Customer ' || g, 'billing' || g || '@client' || (g % 97) || '.example',
         (ARRAY['GB','FR','DE','NL','IE','ES'])[1 + g % 6], now() - (g || ' days')::interval
  FROM generate_series(1, 800) AS g;
INSERT INTO invoices (customer_id, issued_on, status, total_cents)
  SELECT 1 + (g * 7) % 800, current_date - (g % 700),
         (ARRAY['draft','sent','paid','paid','void'])[1 + g % 5], 1000 + (g * 137) % 250000
  FROM generate_series(1, 3000) AS g;
INSERT INTO invoice_lines (invoice_id, description, quantity, unit_cents)
  SELECT 1 + g % 3000, 'Consulting, ' || (ARRAY['design','build','support'])[1 + g % 3],
         1 + g % 9, 2500 + (g * 31) % 20000
  FROM generate_series(1, 7500) AS g;
"""
