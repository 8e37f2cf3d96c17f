#!/bin/bash
# Claude Code registers ccproxy's MCP server with the command `ccproxy mcp config` prints, then
# lists it and runs one prompt; the daemon records the prompt's request with the tools Claude Code
# got from the server. Run inside a loopback-only namespace (see test_claude_code.py):
#   unshare --net tests/mcp/claude_mcp_trial.sh OUTDIR
set -u
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(cd "$HERE/../.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
CLAUDE_BIN=${CLAUDE_BIN:-claude}
mkdir -p "$OUT/home" "$OUT/cfg" "$OUT/work"
ip link set lo up
export HOME=$OUT/home
$PY "$REPO/tests/providers/clients/fake_upstream.py" "$OUT/fake.port" "$OUT/received.json" & FAKE=$!
while [ ! -s "$OUT/fake.port" ]; do sleep 0.1; done
cat > "$OUT/cfg/ccproxy.yaml" <<YAML
ccproxy:
  port: 4000
  providers:
    anthropic: {type: anthropic, host: "127.0.0.1:$(cat "$OUT/fake.port")", scheme: http}
  inspector: {wireguard: false}
  mcp: {port: 4030}
YAML
export CCPROXY_CONFIG_DIR=$OUT/cfg
$PY -m ccproxy start > "$OUT/daemon.log" 2>&1 & D=$!
for _ in $(seq 1 600); do curl -s -o /dev/null -f http://127.0.0.1:4000/health && break; sleep 0.2; done
cd "$OUT/work"
$PY -m ccproxy mcp config --client claude > "$OUT/register.cmd" 2> "$OUT/register.err"
# The printed command, run as printed (with this checkout's claude binary in place of `claude`).
eval "$(sed "s|^claude |\"\$CLAUDE_BIN\" |" "$OUT/register.cmd")" > "$OUT/add.out" 2>&1; echo "add exit: $?" >> "$OUT/add.out"
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
timeout 120 "$CLAUDE_BIN" mcp list > "$OUT/list.out" 2>&1 < /dev/null
ANTHROPIC_BASE_URL=http://127.0.0.1:4000 ANTHROPIC_API_KEY=sk-ant-api03-trial-key \
  timeout 180 "$CLAUDE_BIN" -p "say hello" > "$OUT/prompt.out" 2> "$OUT/prompt.err" < /dev/null
echo $? > "$OUT/prompt.rc"
curl -s "http://127.0.0.1:4000/flows?bodies=1" > "$OUT/flows.json"
kill $D; wait $D; kill $FAKE; wait $FAKE
