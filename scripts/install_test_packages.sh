#!/usr/bin/env bash
# The Debian packages the tests use: Chromium for the browser tests, PHP and WordPress (with its
# default theme, only a recommended package) for the real WordPress test and the PHP checks of
# the serialized rewrite; Prometheus for promtool, which checks the alert rules (docs/monitoring/).
# Installs what is missing when it may (root), else says what to install.
set -euo pipefail

packages=(chromium fonts-dejavu-core php-cli php-mysql wordpress wordpress-theme-twentytwentythree
  prometheus)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
((${#missing[@]})) || exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing the Debian packages the tests use: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
