#!/usr/bin/env bash
# Guest instructions per op call, portable vs NEON, for the aarch64 cross build under qemu-user: each
# op of bench_isa_ops runs alone for one ISA with 1 and with 3 timed runs (plus the warm-up), and the
# difference of the two counts over 2 is one call's instructions (setup and the table's other work
# cancel out). Instruction counts, not ARM timings: an ARM core's cycles per instruction differ by op.
#   perf/qemu_insn_count.sh [BUILD_DIR]   (default build-aarch64, after scripts/cross_aarch64.sh and
#                                          cmake --build build-aarch64 --target bench_isa_ops)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-aarch64}
bench="$build/bin/bench_isa_ops"
[ -x "$bench" ] || { echo "error: $bench not built" >&2; exit 1; }
plugin="$build/libqemu_insn_count.so"
gcc -shared -fPIC -O2 -Wall -o "$plugin" perf/qemu_insn_count.c
count() {  # op isa runs
  qemu-aarch64 -plugin "$plugin" -d plugin "$bench" --op "$1" --isa "$2" --runs "$3" 2>&1 | sed -n 's/^insns: //p'
}
ops=$(qemu-aarch64 "$bench" --runs 1 --isa vector | awk 'NR > 2' | wc -l)
printf "%-3s %-34s %16s %16s %8s\n" "#" "op" "generic insns" "neon insns" "ratio"
for ((i = 0; i < ops; i++)); do
  name=$(qemu-aarch64 "$bench" --op "$i" --runs 1 --isa vector | awk 'NR == 3 { $1 = ""; $NF = ""; $(NF-1) = ""; $(NF-2) = ""; print }')
  g=$(( ($(count "$i" generic 3) - $(count "$i" generic 1)) / 2 ))
  v=$(( ($(count "$i" vector 3) - $(count "$i" vector 1)) / 2 ))
  printf "%-3s %-34s %16d %16d %7.2fx\n" "$i" "$(echo $name)" "$g" "$v" "$(awk -v g="$g" -v v="$v" 'BEGIN { print g / v }')"
done
