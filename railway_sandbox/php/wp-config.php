<?php
/*
 * A real WordPress for the Railway sandbox (the tests' and `make run`'s demo): one WordPress
 * docroot serves every site of the sandbox.
 *
 * On Railway each environment's app reaches the database service of the same environment. Here
 * the request's Host header names a service domain in the sandbox's state file; the database is
 * the one backing that domain's environment. Read on every request, so a staging copy answers as
 * soon as the sandbox gives it a domain, as Railway's would.
 *
 * A site that is not WordPress (its database is PostgreSQL, like the demo's Ledger App) is
 * passed on to the sandbox's own page for it when UNDERSTUDY_SANDBOX_SITES names the sandbox
 * (http://127.0.0.1:8790), so one address serves every site of the demo.
 */
$understudy_host = strtolower(preg_replace('/:\d+$/', '', $_SERVER['HTTP_HOST'] ?? ''));
$understudy_state = json_decode((string) @file_get_contents(getenv('UNDERSTUDY_SANDBOX_STATE')), true);
$understudy_database = null;
foreach (($understudy_state['projects'] ?? []) as $understudy_project) {
    foreach ($understudy_project['environments'] as $understudy_environment) {
        $understudy_served = false;
        $understudy_backing = null;
        foreach ($understudy_environment['instances'] as $understudy_instance) {
            foreach ($understudy_instance['domains'] as $understudy_domain) {
                $understudy_served = $understudy_served
                    || strtolower($understudy_domain['domain']) === $understudy_host;
            }
            $understudy_backing = $understudy_instance['database'] ?? $understudy_backing;
        }
        if ($understudy_served) {
            $understudy_database = $understudy_backing;
            break 2;
        }
    }
}
$understudy_sites = getenv('UNDERSTUDY_SANDBOX_SITES');
if ($understudy_sites && ($understudy_database === null || $understudy_database['engine'] === 'postgres')) {
    $understudy_answer = @file_get_contents(
        rtrim($understudy_sites, '/') . ($_SERVER['REQUEST_URI'] ?? '/'),
        false,
        stream_context_create(['http' => [
            'method' => 'GET',
            'header' => "Host: {$understudy_host}\r\n",
            'ignore_errors' => true,
            'follow_location' => 0,
            'timeout' => 30,
        ]])
    );
    $understudy_status = 502;
    foreach ($http_response_header ?? [] as $understudy_line) {
        if (preg_match('#^HTTP/\S+ (\d{3})#', $understudy_line, $understudy_match)) {
            $understudy_status = (int) $understudy_match[1];
        } elseif (preg_match('#^(content-type|location):#i', $understudy_line)) {
            header($understudy_line);
        }
    }
    http_response_code($understudy_status);
    echo $understudy_answer === false ? "The Railway sandbox did not answer.\n" : $understudy_answer;
    exit;
}
if ($understudy_database === null) {
    http_response_code(404);
    header('Content-Type: text/plain');
    echo "No environment of the Railway sandbox serves {$understudy_host}.\n";
    exit;
}

define('DB_NAME', $understudy_database['database']);
define('DB_USER', $understudy_database['user']);
define('DB_PASSWORD', $understudy_database['password']);
define('DB_HOST', getenv('UNDERSTUDY_DB_HOST') ?: '127.0.0.1:3306');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');

// Fixed keys: every site shares them, as the Railway template copies them into
// staging (the variables are duplicated with the environment).
foreach (['AUTH', 'SECURE_AUTH', 'LOGGED_IN', 'NONCE'] as $understudy_kind) {
    define("{$understudy_kind}_KEY", "understudy-test-{$understudy_kind}-key");
    define("{$understudy_kind}_SALT", "understudy-test-{$understudy_kind}-salt");
}
$table_prefix = 'wp_';

// No internet here, and php -S answers one request per worker: no update checks, no loopback
// cron requests that would queue behind the page that spawned them.
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('DISABLE_WP_CRON', true);
define('WP_DEBUG', false);

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
