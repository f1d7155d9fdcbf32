#!/bin/sh
# A program some tests need, from Debian's package where apt can install it; otherwise say what to do.
# Usage: install_package.sh COMMAND PACKAGE WHAT   (COMMAND: a path, or a name looked up on PATH)
# On CI (CI=true) a missing program is an error; elsewhere the tests that need it are skipped with this reason.
set -eu
command="$1" package="$2" what="$3"
found() { [ -x "$command" ] || command -v "$command" >/dev/null 2>&1; }
if found; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's $package package for $what (about a minute)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$package" >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "$package" >/dev/null; }
    found && exit 0
fi
message="no $command for $what: install it (Debian/Ubuntu: 'sudo apt-get install $package')"
if [ "${CI:-}" = "true" ]; then
    echo "$message" >&2
    exit 1
fi
echo "$message; those tests will be skipped" >&2
