<?php
/*
 * Router for `php -S`: files are served as they are (PHP files run), everything else goes to
 * WordPress's front controller, as Apache's rewrite rules for pretty permalinks do.
 */
$understudy_path = urldecode((string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
$understudy_file = __DIR__ . $understudy_path;
if ($understudy_path !== '/' && file_exists($understudy_file)) {
    if (is_dir($understudy_file) && !file_exists(rtrim($understudy_file, '/') . '/index.php')) {
        http_response_code(403);
        exit;
    }
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = __DIR__ . '/index.php';
require __DIR__ . '/index.php';
