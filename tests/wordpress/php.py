"""PHP as the referee: WP-CLI's replacer and PHP's own unserialize, many cases per process."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Sequence

from staging.wordpress.serialized import HOST_BOUNDARY, needs_host_boundary

# WP-CLI's SearchReplacer::run_recursively (recurse_objects on, no logging), applying several
# pairs with str_replace's array form, or with --regex (preg_replace's array form) when a case
# asks for host boundaries: then each search that needs one is followed by HOST_BOUNDARY.
# Unknown classes are declared on the fly, as they are when WP-CLI runs with WordPress and its
# plugins loaded.
REFERENCE = r"""
spl_autoload_register(function ($class) {
    if (preg_match('/^[A-Za-z_][A-Za-z0-9_]*$/', $class)) {
        eval("#[\\AllowDynamicProperties] class $class {}");
    }
});
error_reporting(E_ALL & ~E_NOTICE & ~E_WARNING & ~E_DEPRECATED);
function walk($data, $serialised, $replace) {
    $unserialized = is_string($data) ? @unserialize($data) : false;
    if (false !== $unserialized) {
        $data = walk($unserialized, true, $replace);
    } elseif (is_array($data)) {
        foreach (array_keys($data) as $key) {
            $data[$key] = walk($data[$key], false, $replace);
        }
    } elseif (is_object($data) && !($data instanceof __PHP_Incomplete_Class)) {
        foreach ($data as $key => $value) {
            $data->$key = walk($value, false, $replace);
        }
    } elseif (is_string($data)) {
        $data = $replace($data);
    }
    return $serialised ? serialize($data) : $data;
}
while (($line = fgets(STDIN)) !== false) {
    $case = json_decode($line, true);
    $input = base64_decode($case['input']);
    $from = array_map(fn ($pair) => base64_decode($pair[0]), $case['pairs']);
    $to = array_map(fn ($pair) => base64_decode($pair[1]), $case['pairs']);
    if (empty($case['boundary'])) {
        $replace = fn ($text) => str_replace($from, $to, $text);
    } else {
        $patterns = array_map(
            fn ($pair) => '/' . preg_quote(base64_decode($pair[0]), '/')
                . ($pair[2] ? $case['boundary'] : '') . '/',
            $case['pairs']
        );
        $replacements = array_map(fn ($text) => addcslashes($text, '\\$'), $to);
        $replace = fn ($text) => preg_replace($patterns, $replacements, $text);
    }
    $touched = false;
    foreach ($from as $search) { $touched = $touched || str_contains($input, $search); }
    $reference = ($input === '' || !$touched) ? $input : walk($input, false, $replace);
    $check = base64_decode($case['check']);
    echo json_encode([
        'reference' => base64_encode($reference),
        'input_unserializes' => $input === 'b:0;' || @unserialize($input) !== false,
        'check_unserializes' => $check === 'b:0;' || @unserialize($check) !== false,
    ]), "\n";
}
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogateescape")).decode()


def run_reference(
    php: str,
    cases: Sequence[tuple[str, Sequence[tuple[str, str]], str]],
    *,
    host_boundaries: bool = False,
) -> list[dict[str, object]]:
    """For each (input, pairs, check): PHP's reference result and whether input/check unserialize."""  # noqa: E501
    boundary = HOST_BOUNDARY if host_boundaries else ""
    lines = "".join(
        json.dumps(
            {
                "input": _b64(value),
                "pairs": [[_b64(a), _b64(b), needs_host_boundary(a)] for a, b in pairs],
                "check": _b64(check),
                "boundary": boundary,
            }
        )
        + "\n"
        for value, pairs, check in cases
    )
    completed = subprocess.run(
        [php, "-d", "display_errors=stderr", "-r", REFERENCE],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(results) == len(cases), completed.stderr
    for result in results:
        result["reference"] = base64.b64decode(str(result["reference"])).decode(
            "utf-8", "surrogateescape"
        )
    return results


def unserializes(php: str, values: Sequence[str]) -> list[bool]:
    return [bool(r["check_unserializes"]) for r in run_reference(php, [(v, [], v) for v in values])]


def unserialized(php: str, values: Sequence[str]) -> list[object]:
    """What PHP's ``unserialize`` makes of each value, as JSON (``false`` when it refuses)."""
    code = (
        "while (($line = fgets(STDIN)) !== false) {"
        ' echo json_encode(@unserialize(base64_decode(trim($line)))), "\\n"; }'
    )
    completed = subprocess.run(
        [php, "-r", code],
        input="".join(_b64(value) + "\n" for value in values),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in completed.stdout.splitlines()]
