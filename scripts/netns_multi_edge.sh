#!/usr/bin/env bash
# Several edges sharing one shaped link to one server, with real kernel shaping (DESIGN 7-8): the server
# and each edge run in their own network namespace, joined by a bridge in a switch namespace; the link
# into the server (every edge's uplink) is shaped with tc (HTB rate + netem delay), the way back delayed
# too, so the edges compete for one bottleneck. The root namespace is not touched. Prints each edge's
# latency, uplink bandwidth and cloud share, then the totals; by hand, not in CI.
#
# Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2 (ip, tc with the htb and netem qdiscs).
# usage: sudo scripts/netns_multi_edge.sh [options]
#   --edges N          edges sharing the link (default 4)
#   --rate R           bottleneck rate, tc syntax (default 56mbit)
#   --rtt-ms N         round-trip time added by netem, half each way (default 20)
#   --frames N         frames per edge (default 150)
#   --policy P         fluxshard (default), local or offload
#   --mode M           fluxshard (default) or exact
#   --codec C          raw, lossless, lz4, jpeg (default jpeg)
#   --model M          an ONNX file (default assets/yolo11n-320.onnx) or a .fsp plan
#   --clip C           clip for every edge (default assets/bedroom.mp4)
#   --server-threads N / --edge-threads N   kernel threads (default 2 / 1)
#   --build DIR        build directory (default: $FLUXSHARD_BUILD or build)
#   --out DIR          keep logs and JSON lines (default: a temporary directory)
#   --keep             leave the namespaces in place (inspect with: ip netns list)
set -euo pipefail
cd "$(dirname "$0")/.."
edges=4 rate=56mbit rtt=20 frames=150 policy=fluxshard mode=fluxshard codec=jpeg
model=assets/yolo11n-320.onnx clip=assets/bedroom.mp4 sthreads=2 ethreads=1
build=${FLUXSHARD_BUILD:-build} out="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --edges) edges=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --rtt-ms) rtt=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --codec) codec=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --clip) clip=$2; shift 2 ;;
    --server-threads) sthreads=$2; shift 2 ;;
    --edge-threads) ethreads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "netns_multi_edge: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "netns_multi_edge: needs root (network namespaces and tc)" >&2; exit 1; }
command -v ip >/dev/null && command -v tc >/dev/null || { echo "netns_multi_edge: needs iproute2 (ip, tc)" >&2; exit 1; }
fx=$(realpath "$build/bin/fluxshard")
[ -x "$fx" ] || { echo "netns_multi_edge: $fx not found" >&2; exit 1; }
[ "$edges" -ge 1 ] && [ "$edges" -le 50 ] || { echo "netns_multi_edge: --edges 1..50" >&2; exit 2; }
work=$(mktemp -d)
[ -n "$out" ] && mkdir -p "$out" || out=$work
ns=fxmE$$  # unique prefix: several runs never collide
sw=${ns}sw srv=${ns}srv
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" -eq 0 ]; then
    for n in $(ip netns list | awk '{print $1}' | grep "^$ns" || true); do ip netns del "$n" 2>/dev/null || true; done
  fi
  [ "$out" = "$work" ] || rm -rf "$work"
}
trap cleanup EXIT

half=$(awk "BEGIN { printf \"%.3f\", $rtt / 2 }")
# Switch with a bridge; the server behind the shaped port.
ip netns add "$sw"
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
ip -n "$sw" link set lo up
ip netns add "$srv"
ip link add "${ns}s0" type veth peer name "${ns}s1"
ip link set "${ns}s0" netns "$srv"
ip link set "${ns}s1" netns "$sw"
ip -n "$srv" link set lo up
ip -n "$srv" addr add 10.77.0.1/24 dev "${ns}s0"
ip -n "$srv" link set "${ns}s0" up
ip -n "$sw" link set "${ns}s1" master br0 up
# Uplink bottleneck shared by every edge: switch -> server.
ip netns exec "$sw" tc qdisc add dev "${ns}s1" root handle 1: htb default 10
ip netns exec "$sw" tc class add dev "${ns}s1" parent 1: classid 1:10 htb rate "$rate" ceil "$rate" quantum 1514
# Delay with netem, half each way (the way back is not rate-limited: results are small). Kernels without
# sch_netem: the edges emulate the RTT on their side instead (--rtt-ms), the rate stays kernel-shaped.
edge_rtt=()
if ip netns exec "$sw" tc qdisc add dev "${ns}s1" parent 1:10 handle 10: netem delay "${half}ms" limit 100000 2>/dev/null; then
  ip netns exec "$srv" tc qdisc add dev "${ns}s0" root netem delay "${half}ms" limit 100000
else
  echo "netns_multi_edge: no netem qdisc in this kernel; the edges add the ${rtt} ms RTT themselves (--rtt-ms)" >&2
  edge_rtt=(--rtt-ms "$rtt")
fi
for i in $(seq 1 "$edges"); do
  e=${ns}e$i
  ip netns add "$e"
  ip link add "${ns}a$i" type veth peer name "${ns}b$i"
  ip link set "${ns}a$i" netns "$e"
  ip link set "${ns}b$i" netns "$sw"
  ip -n "$e" link set lo up
  ip -n "$e" addr add "10.77.0.$((10 + i))/24" dev "${ns}a$i"
  ip -n "$e" link set "${ns}a$i" up
  ip -n "$sw" link set "${ns}b$i" master br0 up
done

plan=$model
if [[ "$model" != *.fsp ]]; then
  plan=$work/model.fsp
  "$fx" compile "$model" -o "$plan" --quiet
fi
ip netns exec "$srv" "$fx" serve "$plan" --listen 10.77.0.1:7070 --port-file "$work/port" --threads "$sthreads" \
  > "$out/serve.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 600); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "netns_multi_edge: the server did not start:" >&2; cat "$out/serve.log" >&2; exit 1; }

echo "$edges edges, $rate shared uplink, ${rtt} ms RTT, policy $policy, mode $mode, codec $codec, $frames frames each"
edge_pids=()
for i in $(seq 1 "$edges"); do
  ip netns exec "${ns}e$i" "$fx" edge "$plan" --input "$clip" --server 10.77.0.1:7070 --policy "$policy" \
    --mode "$mode" --codec "$codec" --max-frames "$frames" --threads "$ethreads" --realtime --name "edge$i" "${edge_rtt[@]}" \
    --json "$out/edge$i.jsonl" > "$out/edge$i.log" 2>&1 &
  edge_pids+=($!)
done
fail=0
for p in "${edge_pids[@]}"; do wait "$p" || fail=1; done
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
pids=()
[ "$fail" -eq 0 ] || { echo "netns_multi_edge: an edge failed; logs in $out" >&2; tail -n 5 "$out"/edge*.log >&2; }

printf '%-6s %9s %9s %9s %8s %9s\n' edge mean_ms p95_ms MB/s cloud% fallbacks
for i in $(seq 1 "$edges"); do
  f=$out/edge$i.jsonl
  [ -s "$f" ] || { printf '%-6s (no output)\n' "edge$i"; continue; }
  tail -n 1 "$f" | sed -E 's/.*"frames":([0-9]+).*"mean_ms":([0-9.e+-]+).*"p95_ms":([0-9.e+-]+).*"mb_per_s":([0-9.e+-]+).*"frames_on_cloud":([0-9]+).*"fallbacks":([0-9]+).*/\1 \2 \3 \4 \5 \6/' |
    awk -v e="edge$i" '{ printf "%-6s %9.2f %9.2f %9.3f %7.0f%% %9d\n", e, $2, $3, $4, 100 * $5 / $1, $6 }'
done
echo "logs and JSON lines: $out"
exit "$fail"
