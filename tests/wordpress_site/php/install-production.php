<?php
/*
 * Installs a real WordPress production site into the database that the sandbox gives the host
 * named on the command line, then fills it the way a live site is filled: pretty permalinks,
 * posts and a page with absolute links to the production URL (HTML and block attributes),
 * users of several roles, comments, serialized options holding the URL, plugin credentials
 * that staging must reset, and links to uploads (which stay on production).
 *
 * Usage: php install-production.php <host:port> <administrator password>
 * Prints what it made as JSON.
 */
[, $understudy_host, $understudy_password] = $argv;
$_SERVER['HTTP_HOST'] = $understudy_host;
$_SERVER['REQUEST_URI'] = '/';
$home = "http://{$understudy_host}";

define('WP_INSTALLING', true);
// wp_install() stores siteurl and home from wp_guess_url(), which follows this constant.
define('WP_SITEURL', $home);
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

add_filter('pre_wp_mail', '__return_false');  // no mail server: the install's welcome mail
$installed = wp_install('Tea Room', 'teaadmin', 'owner@tearoom.example', true, '', wp_slash($understudy_password));
$admin = (int) $installed['user_id'];
wp_set_current_user($admin);  // authors posts with unfiltered HTML, as the owner would
wp_update_user(['ID' => $admin, 'first_name' => 'Olive', 'last_name' => 'Owner', 'display_name' => 'Olive Owner']);

global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
$wp_rewrite->flush_rules(false);
update_option('blogdescription', 'Loose-leaf tea since 1921');

$uploads = WP_CONTENT_DIR . '/uploads/2026/01';
wp_mkdir_p($uploads);
// A 1×1 PNG, so the browser can tell whether an image loaded from production.
file_put_contents("{$uploads}/teapot.png", base64_decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='));
file_put_contents("{$uploads}/menu.pdf", "%PDF-1.4\n% the spring menu\n");
$image = "{$home}/wp-content/uploads/2026/01/teapot.png";
$menu = "{$home}/wp-content/uploads/2026/01/menu.pdf";
$json_home = str_replace('/', '\\/', $home);
// Themes and page builders also write links without a scheme ("//host/path").
$relative_home = substr($home, strlen('http:'));

$users = [];
foreach ([
    ['margaret', 'editor', 'margaret.hale@tearoom.example', 'Margaret', 'Hale'],
    ['alice', 'subscriber', 'alice.walker@gmail.com', 'Alice', 'Walker'],
    ['bob', 'subscriber', 'bob.jones@outlook.com', 'Bob', 'Jones'],
] as [$login, $role, $email, $first, $last]) {
    $users[$login] = wp_insert_user([
        'user_login' => $login,
        'user_pass' => wp_generate_password(),
        'user_email' => $email,
        'role' => $role,
        'first_name' => $first,
        'last_name' => $last,
        'display_name' => "{$first} {$last}",
        'user_url' => "https://{$login}.example",
    ]);
}

$about = wp_insert_post([
    'post_type' => 'page',
    'post_status' => 'publish',
    'post_name' => 'about',
    'post_title' => 'About the Tea Room',
    'post_content' => "<!-- wp:paragraph --><p>Since 1921. Read <a href=\"{$home}/spring-menu/\">the spring menu</a>.</p><!-- /wp:paragraph -->"
        . "<!-- wp:paragraph --><p>Or see <a href=\"{$relative_home}/spring-menu/\">the menu without a scheme</a>"
        . " next to <img src=\"{$relative_home}/wp-content/uploads/2026/01/teapot.png\" alt=\"A protocol-relative teapot\"/>.</p><!-- /wp:paragraph -->"
        . "<!-- wp:image --><figure class=\"wp-block-image\"><img src=\"{$image}\" alt=\"Our teapot\"/></figure><!-- /wp:image -->",
], true);
$posts = [];
foreach ([
    ['spring-menu', 'The spring menu', 'First flush Darjeeling is in.'],
    ['new-teapots', 'New teapots', 'Cast iron, from Iwate.'],
] as [$slug, $title, $text]) {
    $posts[$slug] = wp_insert_post([
        'post_status' => 'publish',
        'post_name' => $slug,
        'post_title' => $title,
        'post_author' => $users['margaret'],
        'post_content' => "<!-- wp:paragraph --><p>{$text} See <a href=\"{$home}/about/\">about us</a>, "
            . "<a href=\"{$home}/\">our home page</a> or <a href=\"{$home}/?p=1\">the first post</a>.</p><!-- /wp:paragraph -->"
            . "<!-- wp:image --><figure class=\"wp-block-image\"><a href=\"{$image}\"><img src=\"{$image}\" alt=\"A teapot\"/></a></figure><!-- /wp:image -->"
            . "<!-- wp:paragraph --><p><a href=\"{$menu}\">The menu (PDF)</a></p><!-- /wp:paragraph -->"
            . "<!-- wp:tearoom/card {\"link\":\"{$json_home}\\/about\\/\"} /-->",
    ], true);
}
foreach ([['alice', 'Alice Walker', '203.0.113.7'], ['bob', 'Bob Jones', '198.51.100.23']] as [$login, $name, $ip]) {
    wp_insert_comment([
        'comment_post_ID' => $posts['spring-menu'],
        'comment_author' => $name,
        'comment_author_email' => get_userdata($users[$login])->user_email,
        'comment_author_url' => "https://{$login}.example",
        'comment_author_IP' => $ip,
        'comment_content' => "Lovely! I linked it from {$home}/spring-menu/ to my friends.",
        'comment_approved' => 1,
        'user_id' => $users[$login],
    ]);
}

update_option('widget_text', [
    2 => ['title' => 'Visit us', 'text' => "<a href=\"{$home}/about/\">Opening hours</a>", 'filter' => true, 'visual' => true],
    '_multiwidget' => 1,
]);
update_option('tearoom_settings', [
    'shop_url' => "{$home}/shop/",
    'links' => ['about' => "{$home}/about/", 'logo' => $image, 'faq' => "{$relative_home}/faq/"],
    'card' => (object) ['home' => $home],
]);
update_option('wp_mail_smtp', ['mail' => ['mailer' => 'smtp'], 'smtp' => ['host' => 'smtp.mailgun.org', 'pass' => 'live-smtp-password']]);
update_option('wordpress_api_key', 'live-akismet-key');

echo json_encode([
    'home' => get_option('home'),
    'admin' => $admin,
    'users' => $users,
    'about' => $about,
    'posts' => $posts,
]), "\n";
