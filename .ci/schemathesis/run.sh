#!/usr/bin/env bash
# The HTTP API as a third-party client sees it (invite-axum, rules §6): schemathesis, from
# PyPI, against the running demo's /api/openapi.json with every check and its examples,
# coverage, fuzzing and stateful phases. Any failure fails the run. Called by .ci/run; runs
# alone too (`bash .ci/schemathesis/run.sh`).
#
# Knobs (environment): SCHEMATHESIS_SEED (default below), SCHEMATHESIS_MAX_EXAMPLES (cases
# per operation and phase; the default, 200, keeps schemathesis itself at about 40 s on an
# idle 2-core machine and under two minutes on a busy one — the limit is five).
set -euo pipefail
cd "$(dirname "$0")/../.."

ST_VERSION="4.32.5"
SEED="${SCHEMATHESIS_SEED:-20261126}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-200}"
CONFIG=".ci/schemathesis/schemathesis.toml"
STATE="target/schemathesis"
VENV="$STATE/venv"
mkdir -p "$STATE"

# schemathesis, pinned, in a virtualenv of its own.
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $ST_VERSION" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

# The demo on a free local port, a fresh SQLite file in a temp dir, token lookups not
# rate-limited (every request comes from 127.0.0.1; rule X6's limit has its own tests).
cargo build --quiet -p invite-demo
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
target/debug/invite-demo --bind "127.0.0.1:$port" --database-url "sqlite://$work/demo.sqlite?mode=rwc" \
  --rate-limit-per-minute 0 >"$work/demo.log" 2>&1 &
demo=$!
cleanup() {
  kill "$demo" 2>/dev/null || true
  wait "$demo" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null "$base/api/openapi.json" 2>/dev/null && break
  kill -0 "$demo" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
  sleep 0.5
done

# Signed in as the super admin of Acme Robotics; the cookie goes to schemathesis through the
# document's `session` scheme, Acme's id through a dictionary (see the config).
me="$(curl -fsS -D "$work/login.headers" -H 'content-type: application/json' \
  -d '{"contact":"alice@example.com"}' "$base/login")"
INVITE_SESSION="$(tr -d '\r' <"$work/login.headers" | sed -n 's/^[Ss]et-[Cc]ookie: invite_demo_session=\([^;]*\).*/\1/p')"
[ -n "$INVITE_SESSION" ] || { echo "no session cookie from POST /login" >&2; exit 1; }
export INVITE_SESSION
python3 -c '
import json, sys
me = json.load(sys.stdin)
acme = next(m["enterprise_id"] for m in me["memberships"] if m["enterprise_name"] == "Acme Robotics")
print(json.dumps(acme))' <<<"$me" >"$STATE/enterprises.dict"

echo "schemathesis $ST_VERSION against $base/api/openapi.json: seed $SEED," \
  "--max-examples $MAX_EXAMPLES (cases per operation and phase), all checks, config $CONFIG"
status=0
"$VENV/bin/schemathesis" --config-file "$CONFIG" run "$base/api/openapi.json" \
  --checks all --phases examples,coverage,fuzzing,stateful \
  --seed "$SEED" --max-examples "$MAX_EXAMPLES" --no-color \
  --report ndjson --report-ndjson-path "$STATE/events.ndjson" || status=$?

# Cases and requests per phase, from schemathesis' own event log.
python3 - "$STATE/events.ndjson" <<'EOF' || true
import collections, json, sys
cases, requests = collections.Counter(), collections.Counter()
with open(sys.argv[1]) as events:
    for line in events:
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        phase = finished["phase"]
        phase = phase if isinstance(phase, str) else phase.get("name", "?")
        recorder = finished.get("recorder", {})
        cases[phase] += len(recorder.get("cases", {}))
        requests[phase] += len(recorder.get("interactions", {}))
print("schemathesis cases per phase (requests):",
      ", ".join(f"{p} {cases[p]} ({requests[p]})" for p in ("examples", "coverage", "fuzzing", "stateful")),
      f"— {sum(cases.values())} cases in all")
EOF
if [ "$status" -ne 0 ]; then
  echo "--- the demo's log (last 40 lines) ---"
  tail -n 40 "$work/demo.log"
fi
exit "$status"
