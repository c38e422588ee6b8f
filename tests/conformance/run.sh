#!/bin/bash
# The Frigate conformance suite: the real replayd against the real HTTP API
# of Frigate 0.17.2 and 0.18 (Frigate's own code, run by run_frigate_api.py),
# in the Docker layout. See tests/conformance/README.md.
#
#   tests/conformance/run.sh [SHARED_DIR] [TEST_NAME_FILTER ...]
#
# SHARED_DIR holds frigate-api/ (setup.sh, run_frigate_api.py, the Frigate
# tarballs); the frigate-api folder itself is accepted too. Default:
# $FRIGATE_API_DIR, else ../shared beside the repository. setup.sh makes its
# venv once (a few minutes) under $FRIGATE_API_HOME (default
# /var/tmp/frigate-api) and returns at once afterwards.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

shared=
if [ $# -gt 0 ] && [ -d "$1" ]; then
    shared=$1
    shift
fi
shared=${shared:-${FRIGATE_API_DIR:-$repo/../shared}}
if [ -f "$shared/setup.sh" ]; then
    setup=$shared/setup.sh
elif [ -f "$shared/frigate-api/setup.sh" ]; then
    setup=$shared/frigate-api/setup.sh
else
    echo "conformance: no setup.sh in $shared or $shared/frigate-api" >&2
    echo "usage: $0 [SHARED_DIR] [TEST_NAME_FILTER ...]  (or set FRIGATE_API_DIR)" >&2
    exit 2
fi

started=$(date +%s.%N)
elapsed() {
    awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

echo "conformance: setting up the Frigate API runner ($setup)" >&2
vars=$(bash "$setup")
eval "$vars"
echo "conformance: setup done after $(elapsed) s" >&2

cd "$repo"
rc=0
cargo test --features conformance --test conformance -- --nocapture "$@" || rc=$?
echo "conformance: $( [ $rc -eq 0 ] && echo passed || echo FAILED ) in $(elapsed) s (setup included)" >&2
exit $rc
