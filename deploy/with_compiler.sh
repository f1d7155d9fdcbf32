#!/bin/sh
# Runs a command (a pip install) with a C++ compiler and Python's headers present, then removes them, in the same
# layer: a few dependencies ship no wheel for Linux's Python 3.11 and build from source (pyworld, webrtcvad).
set -eu
packages=g++
include="$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[ -f "$include/Python.h" ] || packages="$packages python3-dev"  # Debian's Python (the debootstrapped base)
apt_install $packages
status=0
"$@" || status=$?
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --auto-remove $packages >/dev/null
exit $status
