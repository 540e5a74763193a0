#!/usr/bin/env bash
# Entry point of the librdkafka conformance run (what .ci/run calls): builds the suite when it
# is not built yet (build.sh: Debian's librdkafka source package, under .work/, git-ignored),
# then runs run.ts with Node 24 from node_modules. Run from anywhere, after `npm ci`.
#
#   compat/librdkafka/run.sh                the tests in passing.txt (CI: any failure fails it)
#   compat/librdkafka/run.sh --all          every test of 0000-0999 that needs a broker
#   compat/librdkafka/run.sh 0012 0081      chosen tests; run.ts options pass through
#                                           (without ids, --list or --all: passing.txt)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
node="$repo/node_modules/.bin/node"
[ -x "$node" ] || { echo "run npm ci first ($node missing)" >&2; exit 2; }

start=$(date +%s)
suite="$(bash "$here/build.sh" | tail -n 1)"
echo "[librdkafka] suite ready in $(($(date +%s) - start)) s: $suite"

exec "$node" "$here/run.ts" --suite "$suite" "$@"
