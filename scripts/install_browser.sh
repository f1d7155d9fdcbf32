#!/bin/sh
# Chromium for the web page's tests: Debian's package where apt can install it; otherwise say what to do.
# On CI (CI=true) a missing browser is an error; elsewhere the browser tests are skipped with this reason.
set -eu
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium package for the browser tests (about a minute)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
    [ -x "$CHROMIUM" ] && exit 0
fi
message="no Chromium at $CHROMIUM: install it (Debian/Ubuntu: 'sudo apt-get install chromium'), or set CHROMIUM=/path/to/chrome"
if [ "${CI:-}" = "true" ]; then
    echo "$message" >&2
    exit 1
fi
echo "$message; the browser tests will be skipped" >&2
