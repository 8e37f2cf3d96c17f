"""The shell program that runs as (mapped) root inside the new namespaces and brings the jail up.

Protocol with the host over two FIFOs in the work dir (dash only redirects fds 0-9, so inherited
pipe fds with arbitrary numbers are unusable):
  script -> host: "ns"                       the namespaces exist; attach slirp4netns now
  host -> script: any line                   the tap is configured; continue
  script -> host: "ok <kernel|userspace> <wireguard-go pid or 0>"  or  "err <step>: <output>"
Then the script execs the command with every capability dropped, so it cannot undo the rules.
"""

from __future__ import annotations

from ccproxy.jail.wgconf import SLIRP_HOST, TUNNEL_ADDRESS, TUNNEL_MTU

# Paths inside the jail's private /run (a tmpfs, so nothing leaks to or from the host's /run).
JAIL_DIR = "/run/ccproxy"
JAIL_CA_BUNDLE = f"{JAIL_DIR}/ca-bundle.pem"

SCRIPT = r"""
set -u
work=$1 port=$2
shift 2
exec 3>"$work/status"
say() { printf '%s\n' "$*" >&3; }
fail() { msg=$(printf '%s' "$*" | tr '\n' ' '); say "err $msg"; exit 125; }
run() { desc=$1; shift; out=$("$@" 2>&1) || fail "$desc: $out"; }

# Resolve before /run is hidden: on systemd hosts resolv.conf points into /run.
resolv_target=$(readlink -f /etc/resolv.conf 2>/dev/null || echo /etc/resolv.conf)
say ns
exec 4<"$work/go"
read -r _ <&4 || exit 125
exec 4<&-
# Keep the host-written files open: the tmpfs below may hide the work dir.
exec 7<"$work/wg0.conf" 8<"$work/resolv.conf" 9<"$work/ca-bundle.pem"

run "mount a private tmpfs on /run" mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p @JAIL_DIR@ /run/wireguard
cat <&7 >@JAIL_DIR@/wg0.conf; chmod 600 @JAIL_DIR@/wg0.conf
cat <&8 >@JAIL_DIR@/resolv.conf
cat <&9 >@JAIL_CA_BUNDLE@
exec 7<&- 8<&- 9<&-
run "bring lo up" ip link set lo up

wgpid=0
if ip link add wg0 type wireguard 2>/dev/null; then
  wgmode=kernel
else
  wgmode=userspace
  command -v wireguard-go >/dev/null 2>&1 || fail "no kernel WireGuard and wireguard-go not on PATH"
  setsid wireguard-go -f wg0 >@JAIL_DIR@/wireguard-go.log 2>&1 </dev/null &
  wgpid=$!
  i=0
  while [ ! -S /run/wireguard/wg0.sock ]; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "wireguard-go did not create wg0: $(cat @JAIL_DIR@/wireguard-go.log)"
    kill -0 $wgpid 2>/dev/null || fail "wireguard-go exited: $(cat @JAIL_DIR@/wireguard-go.log)"
    sleep 0.02
  done
fi
run "wg setconf" wg setconf wg0 @JAIL_DIR@/wg0.conf
run "address wg0" ip addr add @ADDR@ dev wg0
run "wg0 up" ip link set wg0 mtu @MTU@ up
run "default route via wg0" ip route replace default dev wg0

# Kill switch: only the tunnel's own UDP may use the tap; no IPv6 at all. One iptables-restore per
# family (atomic, and far fewer process spawns than rule-by-rule). REJECT makes a program that tries
# to bypass the tunnel fail fast; kernels without it still get the DROP policies.
v4() {
  printf '%s\n' '*filter' ':INPUT DROP [0:0]' ':FORWARD DROP [0:0]' ':OUTPUT DROP [0:0]' \
    '-A INPUT -i lo -j ACCEPT' '-A INPUT -i wg0 -j ACCEPT' \
    "-A INPUT -i tap0 -p udp -s @SLIRP@ --sport $port -j ACCEPT" \
    '-A OUTPUT -o lo -j ACCEPT' '-A OUTPUT -o wg0 -j ACCEPT' \
    "-A OUTPUT -o tap0 -p udp -d @SLIRP@ --dport $port -j ACCEPT"
  [ "$1" = reject ] && printf '%s\n' '-A OUTPUT -p tcp -j REJECT --reject-with tcp-reset' '-A OUTPUT -j REJECT'
  echo COMMIT
}
v6() {
  printf '%s\n' '*filter' ':INPUT DROP [0:0]' ':FORWARD DROP [0:0]' ':OUTPUT DROP [0:0]' \
    '-A INPUT -i lo -j ACCEPT' '-A OUTPUT -o lo -j ACCEPT'
  [ "$1" = reject ] && printf '%s\n' '-A OUTPUT -p tcp -j REJECT --reject-with tcp-reset' '-A OUTPUT -j REJECT'
  echo COMMIT
}
v4 reject | iptables-restore -w 2>/dev/null \
  || { out=$(v4 drop | iptables-restore -w 2>&1) || fail "iptables kill switch: $out"; }
v6 reject | ip6tables-restore -w 2>/dev/null \
  || { out=$(v6 drop | ip6tables-restore -w 2>&1) || fail "ip6tables kill switch: $out"; }

case $resolv_target in
  /run/*) mkdir -p "$(dirname "$resolv_target")" && cp @JAIL_DIR@/resolv.conf "$resolv_target" \
            || fail "write $resolv_target" ;;
  *) run "bind-mount resolv.conf" mount --bind @JAIL_DIR@/resolv.conf "$resolv_target" ;;
esac

say "ok $wgmode $wgpid"
exec 3>&-
exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all --no-new-privs -- "$@"
"""


def render_script() -> str:
    return (
        SCRIPT.replace("@JAIL_DIR@", JAIL_DIR)
        .replace("@JAIL_CA_BUNDLE@", JAIL_CA_BUNDLE)
        .replace("@ADDR@", TUNNEL_ADDRESS)
        .replace("@MTU@", str(TUNNEL_MTU))
        .replace("@SLIRP@", SLIRP_HOST)
    )


def resolv_conf_text() -> str:
    from ccproxy.jail.wgconf import TUNNEL_DNS

    return f"# ccproxy jail: every lookup goes through the tunnel\nnameserver {TUNNEL_DNS}\n"
