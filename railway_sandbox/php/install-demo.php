<?php
/*
 * The demo's production WordPress, "Bakery Co": installs a real WordPress into the database
 * the sandbox gives the host named on the command line (emptied by the caller first) and fills
 * it as a live site is filled: pretty permalinks, posts and a page that link to the production
 * URL, a serialized option holding it, a mail plugin's live credentials that staging must reset.
 * Run again on an installed site, it only sets the administrator's password.
 *
 * Usage: php install-demo.php <host:port> <administrator> <password>
 * Prints what it did as JSON.
 */
[, $understudy_host, $understudy_admin, $understudy_password] = $argv;
$_SERVER['HTTP_HOST'] = $understudy_host;
$_SERVER['REQUEST_URI'] = '/';
$home = "http://{$understudy_host}";

define('WP_INSTALLING', true);
// wp_install() stores siteurl and home from wp_guess_url(), which follows this constant.
define('WP_SITEURL', $home);
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

if (get_option('understudy_demo')) {
    $user = get_user_by('login', $understudy_admin);
    wp_set_password($understudy_password, $user->ID);
    echo json_encode(['home' => get_option('home'), 'installed' => false]), "\n";
    exit;
}

add_filter('pre_wp_mail', '__return_false');  // no mail server: the install's welcome mail
$installed = wp_install('Bakery Co', $understudy_admin, 'owner@bakery.example', true, '', wp_slash($understudy_password));
$admin = (int) $installed['user_id'];
wp_set_current_user($admin);
wp_update_user(['ID' => $admin, 'first_name' => 'Amélie', 'last_name' => 'Durand', 'display_name' => 'Amélie Durand']);

global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
$wp_rewrite->flush_rules(false);
update_option('blogdescription', 'Bread, pastry and patience since 1987');

$about = wp_insert_post([
    'post_type' => 'page',
    'post_status' => 'publish',
    'post_name' => 'about',
    'post_title' => 'About the bakery',
    'post_content' => "<!-- wp:paragraph --><p>Baking on Rue des Fleurs since 1987. This week: <a href=\"{$home}/saturday-sourdough/\">the Saturday sourdough</a>.</p><!-- /wp:paragraph -->",
], true);
foreach ([
    ['saturday-sourdough', 'Saturday sourdough', 'Forty loaves, out of the oven at eight.'],
    ['cardamom-buns', 'Cardamom buns are back', 'Laminated, twisted, glazed with syrup.'],
    ['new-rye', 'A new rye', 'Seeded, dark, and better on the second day.'],
] as [$slug, $title, $text]) {
    wp_insert_post([
        'post_status' => 'publish',
        'post_name' => $slug,
        'post_title' => $title,
        'post_content' => "<!-- wp:paragraph --><p>{$text} Read <a href=\"{$home}/about/\">about us</a>"
            . " or go back to <a href=\"{$home}/\">the home page</a>.</p><!-- /wp:paragraph -->",
    ], true);
}
wp_insert_comment([
    'comment_post_ID' => $about,
    'comment_author' => 'Priya Natarajan',
    'comment_author_email' => 'priya.natarajan@gmail.com',
    'comment_author_IP' => '203.0.113.7',
    'comment_content' => "Best croissants in town. {$home}/about/",
    'comment_approved' => 1,
]);
update_option('widget_text', [
    2 => ['title' => 'Visit us', 'text' => "<a href=\"{$home}/about/\">Opening hours</a>", 'filter' => true, 'visual' => true],
    '_multiwidget' => 1,
]);
update_option('wp_mail_smtp', ['mail' => ['mailer' => 'smtp'], 'smtp' => ['host' => 'smtp.mailgun.org', 'pass' => 'live-smtp-password']]);
update_option('understudy_demo', 1);

echo json_encode(['home' => get_option('home'), 'installed' => true]), "\n";
