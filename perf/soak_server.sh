#!/usr/bin/env bash
# Soak test of `fluxshard serve` (issue 17; not run by CI): one server, EDGES edge processes connecting and
# disconnecting for DURATION seconds with faults injected at random, the server's resident memory
# sampled all along. Every edge runs in exact mode. Each run that completes must have all its frames
# (none lost) and no reference mismatch (the server's reference hash, sent with every result, equals the
# edge's proxy of it); a run whose frames were all computed on one side (all by the server, or all
# locally) must equal, frame by frame, a local `fluxshard run --mode exact` of the same clip. (Runs that
# mixed both sides computed some frames against other references, by design: they are checked for
# completeness and mismatches only.)
#
# Each edge loop picks, per round:
#   clean     an edge streams FRAMES frames (--policy offload or fluxshard, a random codec) to the end
#   kill      an edge is killed with SIGKILL after a random 0.3-3 s (the server must clean up)
#   stop      an edge is stopped (SIGSTOP) for 2-4 s mid-stream, then continues to the end
#   garbage   a raw connection sends 1-64 KB of random bytes, then closes
#   silent    a raw connection says nothing for 1-4 s, then closes
# and, once in a while, the whole server is stopped (SIGSTOP) for 1-2 s: the edges fall back to local
# execution (exact, so results still match) and resynchronise.
#
# usage: perf/soak_server.sh [--duration S] [--edges N] [--frames N] [--plan P.fsp] [--build DIR]
#                            [--out DIR] [--seed N]
# Defaults: 600 s, 4 edges, 24 frames per run, yolo11n-320 compiled from assets/, build/, a temporary
# directory (kept with --out: rss.tsv, server.log, runs.tsv, each run's JSON lines).
# Prints RSS over time and a summary; exits 1 if any frame was lost or wrong, an edge run failed, the
# server died, or its RSS after the last session ended is more than 10% above its RSS before the first.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=600 edges=4 frames=24 plan="" build=${FLUXSHARD_BUILD:-build} out="" seed=$$
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --edges) edges=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --plan) plan=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "soak_server: unknown option $1" >&2; exit 2 ;;
  esac
done
fx=$build/bin/fluxshard
[ -x "$fx" ] || { echo "soak_server: $fx not found (build first)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "soak_server: needs python3 to compare JSON lines" >&2; exit 1; }
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out/runs"
RANDOM=$seed
if [ -z "$plan" ]; then
  plan=$out/yolo11n-320.fsp
  "$fx" compile assets/yolo11n-320.onnx -o "$plan" --quiet
fi
clips=(assets/bedroom.mp4 assets/cockatoo.mp4)
for c in "${clips[@]}"; do
  "$fx" run "$plan" --input "$c" --mode exact --max-frames "$frames" --threads 1 --quiet \
    --json "$out/ref_$(basename "$c" .mp4).jsonl" >/dev/null
done

"$fx" serve "$plan" --listen 127.0.0.1:0 --port-file "$out/port" --threads 1 >"$out/server.out" 2>"$out/server.log" &
server=$!
for _ in $(seq 600); do [ -s "$out/port" ] && break; sleep 0.1; done
port=$(cat "$out/port")
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0; }
sleep 1
rss_before=$(rss)
t0=$(date +%s)
deadline=$((t0 + duration))
echo "soak_server: serve pid $server on port $port, RSS before the first session $((rss_before / 1024)) MB;" \
     "$edges edges for $duration s, seed $seed"

# RSS every 5 s.
( while kill -0 "$server" 2>/dev/null; do
    echo -e "$(( $(date +%s) - t0 ))\t$(rss)"
    sleep 5
  done ) >"$out/rss.tsv" &
sampler=$!

raw_connection() {  # garbage | silent
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 0
  if [ "$1" = garbage ]; then
    head -c $(( (RANDOM % 64 + 1) * 1024 )) /dev/urandom >&3 2>/dev/null || true
    sleep 0.2
  else
    sleep $(( RANDOM % 4 + 1 ))
  fi
  exec 3>&-
}

edge_loop() {
  local id=$1 round=0
  RANDOM=$((seed + id * 7919))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    round=$((round + 1))
    local r=$((RANDOM % 100)) kind clip policy codec tag
    if [ $r -lt 50 ]; then kind=clean; elif [ $r -lt 65 ]; then kind=kill; elif [ $r -lt 75 ]; then kind=stop
    elif [ $r -lt 88 ]; then kind=garbage; else kind=silent; fi
    if [ $kind = garbage ] || [ $kind = silent ]; then
      raw_connection $kind
      echo -e "$id\t$round\t$kind\t-\t-\t-\t0" >>"$out/runs.tsv"
      continue
    fi
    clip=${clips[$((RANDOM % ${#clips[@]}))]}
    policy=$([ $((RANDOM % 3)) -eq 0 ] && echo fluxshard || echo offload)
    codec=$(echo raw lossless lz4 | cut -d' ' -f$((RANDOM % 3 + 1)))
    tag=e${id}_r${round}_$(basename "$clip" .mp4)
    "$fx" edge "$plan" --input "$clip" --server "127.0.0.1:$port" --policy "$policy" --mode exact --codec "$codec" \
      --max-frames "$frames" --threads 1 --name "$tag" --result-timeout-ms 5000 --quiet \
      --json "$out/runs/$tag.jsonl" 2>"$out/runs/$tag.err" &
    local pid=$! rc=0
    case $kind in
      kill) sleep "0.$((RANDOM % 7 + 3))$((RANDOM % 10))"; [ $((RANDOM % 2)) -eq 0 ] && sleep $((RANDOM % 3))
            kill -KILL "$pid" 2>/dev/null || true ;;
      stop) sleep 1; kill -STOP "$pid" 2>/dev/null || true; sleep $((RANDOM % 3 + 2)); kill -CONT "$pid" 2>/dev/null || true ;;
    esac
    { wait "$pid"; } 2>/dev/null || rc=$?  # (no "Killed" notice from the shell)
    echo -e "$id\t$round\t$kind\t$policy\t$codec\t$tag\t$rc" >>"$out/runs.tsv"
  done
}

: >"$out/runs.tsv"
loops=()
for i in $(seq "$edges"); do edge_loop "$i" & loops+=($!); done
# Server stops: every 60-120 s, for 1-2 s.
( while [ "$(date +%s)" -lt $((deadline - 10)) ]; do
    sleep $((RANDOM % 60 + 60))
    [ "$(date +%s)" -lt $((deadline - 10)) ] || break
    kill -STOP "$server" && sleep $((RANDOM % 2 + 1)) && kill -CONT "$server"
    echo "$(( $(date +%s) - t0 ))" >>"$out/server_stops.txt"
  done ) &
stopper=$!
for p in "${loops[@]}"; do wait "$p"; done
kill "$stopper" 2>/dev/null || true
wait "$stopper" 2>/dev/null || true
kill -CONT "$server" 2>/dev/null || true
sleep 3  # the last sessions end, their memory goes back
rss_after=$(rss)
alive=1
kill -0 "$server" 2>/dev/null || alive=0
kill -TERM "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

echo "RSS over time (s, MB):"
awk '{printf "  %5d %7.1f\n", $1, $2 / 1024}' "$out/rss.tsv" | awk 'NR % 6 == 1'
python3 - "$out" "$frames" "$rss_before" "$rss_after" "$alive" <<'EOF'
import json, os, sys
out, frames, before, after, alive = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
def lines(p):
    return [json.loads(l) for l in open(p) if l.strip()]
refs = {c: {x["frame"]: json.dumps(x["detections"], sort_keys=True) for x in lines(f"{out}/ref_{c}.jsonl") if "frame" in x}
        for c in ("bedroom", "cockatoo")}
kinds, failures, checked, on_cloud, wrong, mixed, compared = {}, [], 0, 0, 0, 0, 0
for row in open(f"{out}/runs.tsv"):
    eid, rnd, kind, policy, codec, tag, rc = row.rstrip("\n").split("\t")
    kinds[kind] = kinds.get(kind, 0) + 1
    if kind in ("garbage", "silent", "kill"):
        continue
    if rc != "0":
        failures.append(f"{tag}: exit {rc}: {open(f'{out}/runs/{tag}.err').read().strip()[:200]}")
        continue
    got = lines(f"{out}/runs/{tag}.jsonl")
    ref = refs[tag.rsplit("_", 1)[1]]
    per_frame = [x for x in got if "frame" in x]
    summary = got[-1] if got and got[-1].get("summary") else None
    if len(per_frame) != frames or summary is None or summary["frames"] != frames:
        failures.append(f"{tag}: {len(per_frame)} of {frames} frames")
        continue
    if summary["reference_mismatches"] != 0:
        failures.append(f"{tag}: {summary['reference_mismatches']} reference mismatches")
    sides = {x["on"] for x in per_frame}
    checked += len(per_frame)
    on_cloud += sum(x["on"] == "cloud" for x in per_frame)
    if len(sides) > 1:
        mixed += 1
        continue
    compared += 1
    for x in per_frame:
        if json.dumps(x["detections"], sort_keys=True) != ref.get(x["frame"]):
            wrong += 1
            failures.append(f"{tag}: frame {x['frame']} ({x['on']}) differs from the local exact run")
stops = len(open(f"{out}/server_stops.txt").read().split()) if os.path.exists(f"{out}/server_stops.txt") else 0
rss = [int(l.split()[1]) for l in open(f"{out}/rss.tsv") if l.strip()]
log = open(f"{out}/server.log").read()
print(f"rounds: {dict(sorted(kinds.items()))}; server stopped {stops} times")
print(f"frames checked {checked} ({on_cloud} computed by the server) in {compared} single-side runs compared with "
      f"the local exact run and {mixed} mixed runs; wrong {wrong}, failed runs {len([f for f in failures if 'exit' in f])}")
print(f"server: {log.count(': session ')} sessions, {log.count(': closed: ')} connections closed for a reason; "
      f"RSS before {before / 1024:.1f} MB, max {max(rss) / 1024:.1f} MB, after the last session {after / 1024:.1f} MB "
      f"({100.0 * (after - before) / before:+.1f}%)")
ok = alive and not failures and checked > 0 and after <= 1.10 * before
for f in failures[:20]:
    print("  " + f)
print("soak_server: " + ("PASS" if ok else "FAIL") + ("" if alive else " (the server died)"))
sys.exit(0 if ok else 1)
EOF
