#!/bin/sh
# Runs a command of an image build (pip, or a script that calls pip) with what the build may have been given, both
# optional:
#   the build secret `ca_bundle` (an extra CA bundle, for a proxy that signs TLS): pip trusts it;
#   wheels in deploy/wheels (mounted at /wheels): pip takes them before any index (torch's CPU build offline).
# Usage in a Dockerfile: RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=deploy/wheels,target=/wheels \
#                            build_env pip install ...
set -eu
if [ -s /run/secrets/ca_bundle ]; then
    export PIP_CERT=/run/secrets/ca_bundle
fi
if ls /wheels/*.whl >/dev/null 2>&1; then
    export PIP_FIND_LINKS=/wheels
fi
exec "$@"
