#!/bin/bash
# Client trial for docs/clients.md: the real daemon + a fake provider + one client, inside a
# network namespace with only loopback, so nothing can reach a real API.
#
#   unshare --net tests/providers/clients/run_trial.sh NAME -- CLIENT ARGS...
#   (not root: unshare --user --map-root-user --net ...)
#
# A file $SETUP (optional) is sourced after the daemon is up, with HOME set to a scratch
# directory: write the client's config there (e.g. ~/.codex/config.toml).
set -u
NAME=$1; shift; shift
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(cd "$HERE/../../.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
T=${TRIAL_DIR:-/tmp/ccproxy-trial}/$NAME; rm -rf "$T"; mkdir -p "$T/home" "$T/cfg"
ip link set lo up
export HOME=$T/home
$PY "$HERE/fake_upstream.py" "$T/fake.port" "$T/received.json" & FAKE=$!
while [ ! -s "$T/fake.port" ]; do sleep 0.1; done
FP=$(cat "$T/fake.port")
cat > "$T/cfg/ccproxy.yaml" <<YAML
ccproxy:
  port: 4000
  providers:
    anthropic: {type: anthropic, host: "127.0.0.1:$FP", scheme: http, auth: {type: command, command: "printf REAL-anthropic-key"}}
    openai: {type: openai, host: "127.0.0.1:$FP", scheme: http, auth: {type: command, command: "printf REAL-openai-key"}}
    openai_responses: {type: openai_responses, host: "127.0.0.1:$FP", scheme: http, auth: {type: command, command: "printf REAL-openai-key"}}
    gemini: {type: gemini, host: "127.0.0.1:$FP", scheme: http, auth: {type: command, command: "printf REAL-gemini-key"}}
YAML
export CCPROXY_CONFIG_DIR=$T/cfg
$PY -m ccproxy start > "$T/daemon.log" 2>&1 & D=$!
for _ in $(seq 1 300); do curl -s -o /dev/null http://127.0.0.1:4000/health && break; sleep 0.2; done
if [ -n "${SETUP:-}" ]; then . "$SETUP"; fi
timeout 180 "$@" > "$T/client.out" 2> "$T/client.err" < /dev/null; echo "client exit: $?"
kill $D; wait $D; kill $FAKE; wait $FAKE
echo "--- client stdout"; tail -c 1500 "$T/client.out"
echo "--- client stderr"; tail -c 2500 "$T/client.err"
echo "--- upstream received"; cat "$T/received.json"
