#!/bin/sh
# Debian packages into an image, without recommends, the package lists removed after (they are not needed to run).
set -eu
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
rm -rf /var/lib/apt/lists/*
