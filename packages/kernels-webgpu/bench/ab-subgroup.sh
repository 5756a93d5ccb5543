#!/bin/sh
# Registers and timings of subgroup-kernel variants, in one GPU-machine call.
#   here:   node packages/kernels-webgpu/bench/build.mjs
#           (cd .webgpu-bench && xz -T4 -f node_modules/webgpu/dist/linux-x64/dawn.node)
#           and spirv-as + vk-pipeline-stats in .webgpu-bench/ (README, "What the driver compiled")
#   device: (carry .device, .webgpu-bench) . .device/setup.sh; sh packages/kernels-webgpu/bench/ab-subgroup.sh "$OUT"
# Writes OUT/gpu.txt, OUT/pstats.txt (driver statistics of KVQ_AB_PSTATS, ';'-separated "<method>[:letters]"),
# OUT/bench.txt and OUT/webgpu.json (device.mjs with KVQ_AB_METHODS, KVQ_SG_VARIANTS, KVQ_BENCH_SHAPES,
# KVQ_BENCH_ROUNDS; KVQ_SG_TPT1=0; KVQ_AB_PSTATS_SHAPE=BxN for pipeline-stats --shape), then prints the checks, the attention rows and the register table.
# The defaults are the 2026-12-07 plan: the subgroup kernel's kflush, value-group and value-batch variants (k8, g2,
# b4/b8) and the subgroup kernel over uniform K/V against the token-parallel one.
set -u
OUT=${1:?usage: ab-subgroup.sh OUTDIR}
D=.webgpu-bench/node_modules/webgpu/dist/linux-x64
[ -s $D/dawn.node ] || xz -dc $D/dawn.node.xz > $D/dawn.node
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
date -u +%FT%TZ >> "$OUT/gpu.txt"
A="aqua-2.5 sg f16"
K="kvq-2 K2/V2 sg f16"
PSTATS=${KVQ_AB_PSTATS:-"$A;$A:k8;$A:b4;$K;$K:b4;kivi-2 sg f16;k4v2 sg f16;kivi-2 sg f16:g2;kivi-2 f16;k4v2 f16"}
# shellcheck disable=SC2086
if [ -n "${KVQ_AB_PSTATS_SHAPE:-}" ]; then set -- --shape "$KVQ_AB_PSTATS_SHAPE"; else set --; fi
(IFS=';'; set -f; timeout "${KVQ_AB_PSTATS_S:-150}" node .webgpu-bench/pipeline-stats.mjs "$@" $PSTATS) > "$OUT/pstats.txt" 2>&1
KVQ_BENCH_SHAPES=${KVQ_BENCH_SHAPES:-16x32768,16x4096} KVQ_BENCH_ROUNDS=${KVQ_BENCH_ROUNDS:-2} KVQ_SG_TPT1=0 \
  KVQ_SG_VARIANTS=${KVQ_SG_VARIANTS:-k8,g2,b8} KVQ_SUBGROUP_MATRIX=0 \
  timeout "${KVQ_AB_BENCH_S:-330}" node .webgpu-bench/device.mjs --no-codec \
  --methods "${KVQ_AB_METHODS:-fp16,kivi-2 f16,k4v2 f16,kivi-2 sg f16,k4v2 sg f16,$A,$K}" \
  --out "$OUT/webgpu.json" > "$OUT/bench.txt" 2>&1
echo "bench exit $?" >> "$OUT/bench.txt"
cat "$OUT/gpu.txt"
grep -E '^checks|FAIL' "$OUT/bench.txt" | head -8
grep -E '^attention' "$OUT/bench.txt" | sed 's/^attention //'
tail -1 "$OUT/bench.txt"
grep -A20 '^| kernel' "$OUT/pstats.txt"
