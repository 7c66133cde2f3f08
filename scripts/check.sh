#!/bin/sh
# Runs every test: cmocka unit tests, then the pytest namespace suite.
# The last line printed is pytest's summary, which CI reads.
set -eu
BUILD=${1:-build}
./scripts/deps.sh
meson test -C "$BUILD" --print-errorlogs
MCFERRY_BUILD=$(cd "$BUILD" && pwd) exec /usr/bin/python3 -m pytest -v tests/net
