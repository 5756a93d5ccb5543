#!/bin/sh
# Nsight Compute on the decode-attention kernels of one shape, on the GPU machine (carry .device and
# packages/kernels-cuda/{build/Release,bench/dist}; or KVQ_CUDA_ADDON=<an A/B build>):
#   . .device/setup.sh; sh packages/kernels-cuda/bench/ncu-shape.sh OUTFILE FORMAT B CTX SPLIT [SECTIONS]
# profiles one steady-state call (after KVQ_NCU_SKIP launches, default 20) of the decode kernel and its
# split combine (`k_split_combine`), with the clocks left alone (--clock-control none), through the
# bench's split sweep (KVQ_BENCH_SWEEP=FORMAT, one batch, context and split). SECTIONS: ncu section
# names, space-separated (default: SpeedOfLight Occupancy LaunchStats SchedulerStats WarpStateStats
# MemoryWorkloadAnalysis InstructionStats). The report, as text, goes to OUTFILE.
set -e
out=${1:?usage: ncu-shape.sh OUTFILE FORMAT B CTX SPLIT [SECTIONS]}
format=${2:?format} B=${3:?batch} ctx=${4:?context} split=${5:?split}
sections=${6:-SpeedOfLight Occupancy LaunchStats SchedulerStats WarpStateStats MemoryWorkloadAnalysis InstructionStats}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
args=""
for s in $sections; do args="$args --section $s"; done
# shellcheck disable=SC2086
KVQ_BENCH_PARTS=none KVQ_BENCH_SWEEP="$format" KVQ_BENCH_SWEEP_BATCH="$B" KVQ_BENCH_SWEEP_CTX="$ctx" \
  KVQ_BENCH_SWEEP_SPLITS="$split" ncu --clock-control none -k 'regex:k_decode|k_split_combine' \
  --launch-skip "${KVQ_NCU_SKIP:-20}" --launch-count 2 $args node bench/dist/run.mjs "" /tmp/kvq-ncu-shape.json \
  > "$out" 2>&1 || { echo "ncu-shape.sh: ncu failed:"; tail -5 "$out"; exit 1; }
grep -E 'k_decode|k_split|Duration|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps|Achieved Occupancy|DRAM Throughput|Memory Throughput|Compute \(SM\) Throughput|Registers Per|Warp Cycles Per Issued|Executed Instructions ' "$out" || tail -20 "$out"
