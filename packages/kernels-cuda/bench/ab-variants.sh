#!/bin/sh
# A/B of compile-time kernel variants of the decode-attention kernels, in one device call.
#   here (nvcc, node_modules):  sh bench/ab-variants.sh build
#       builds build/ab/<variant>.node for sm_90 (KVQ_NVCC_FLAGS per variant), packs them into
#       build/ab.tar.xz (~0.8 MB each) and bundles bench/dist; then rebuild the default addon with
#       `node scripts/build-native.mjs --force`. KVQ_AB_BASE_REV=<git rev> adds that revision's code,
#       unflagged, as the first variant "base" (built in a temporary git worktree).
#   device (carry .device, packages/kernels-cuda/build/ab.tar.xz, packages/kernels-cuda/bench/dist):
#       . .device/setup.sh; sh packages/kernels-cuda/bench/ab-variants.sh run "$OUT"
#       GPU tests of each variant, PyTorch's SDPA, then the attention bench of each variant (both
#       timings: from an idle GPU and the GPU alone), packed into OUT/ab.tgz (<variant>.{json,txt},
#       tests-<variant>.txt, torch.json, sweep-<variant>.txt); a table last. KVQ_AB_FORMATS: the formats timed;
#       KVQ_AB_TEST_VARIANTS: the variants whose GPU tests run (space-separated; default all, ~40 s each);
#       KVQ_AB_NCU="format|B|ctx|split;…": Nsight Compute on those shapes after the bench (bench/ncu-shape.sh,
#       variant KVQ_AB_NCU_VARIANT or the first), ncu-<i>.txt;
#       the split sweep of the first variant (or of KVQ_AB_SWEEP_VARIANTS, space-separated):
#       KVQ_AB_SWEEP=0 (off), KVQ_AB_SWEEP_FORMATS,
#       KVQ_AB_SWEEP_BATCH (one batch size, default 1), KVQ_AB_SWEEP_SPLITS (pages per block).
# Variants (name:nvcc flags; the first is also the one of the split sweep): the defaults; h4 the HIGGS
# head-pair kernels at 4 blocks per SM (as their registers allow without a bound) instead of 5; vf3 no
# 4-blocks-per-SM build of kivi-2/g128's kernel for large grids (KVQ_MMA_WIDE_MIN_BLOCKS=3: the same
# bound as the one for small grids). Other flags: KVQ_HIGGS_EARLY=0 the HIGGS kernel issuing its first
# chunk's copies after the query rotation;
# KVQ_PDL=0 a plain launch of the split combine instead of a programmatic dependent one; KVQ_STAGES the
# cp.async chunk stages per warp (uniform kernels: with KVQ_MMA_STAGE_CAP=49152, else 3 stages fit none of
# them); KVQ_WIDE_POW2=1, KVQ_VF_VSLOT=16, KVQ_KSC_ALWAYS=1 (README, "Bench": the next A/B). The 2026-12-07 15:00 A/B (bench/results/h100-2026-12-07-s16-ab-*) had
# KVQ_HIGGS_WIDE=1, KVQ_HIGGS_SHFL_QROT=1 and KVQ_COMBINE_ONEPASS=1, since then the default and removed
# (README, "The decode-attention kernels"). The first 2026-12-07 A/B (bench/results/h100-2026-12-07-ab-*) also had
# KVQ_GROUP_RUNS=1, since then chosen at launch, and KVQ_SPLIT_COMBINE=0 (the first split combine, since
# removed).
set -e
VARIANTS="${KVQ_AB_VARIANTS:-default:;h4:-DKVQ_HIGGS_HP_MIN_BLOCKS=4;vf3:-DKVQ_MMA_WIDE_MIN_BLOCKS=3}"
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
case "$1" in
build)
  rm -rf build/ab && mkdir -p build/ab
  # KVQ_AB_BASE_REV=<git revision>: that revision's addon too, as variant "base" (built in a worktree)
  if [ -n "${KVQ_AB_BASE_REV:-}" ]; then
    wt=$(mktemp -d) && git worktree add -q --detach "$wt" "$KVQ_AB_BASE_REV"
    ln -s "$here/node_modules" "$wt/packages/kernels-cuda/node_modules"
    (cd "$wt/packages/kernels-cuda" && KVQ_CUDA_ARCHS=90 node scripts/build-native.mjs --force) > build/ab/base.log 2>&1 ||
      { tail -20 build/ab/base.log; git worktree remove --force "$wt"; exit 1; }
    cp "$wt/packages/kernels-cuda/build/Release/kvq_cuda.node" build/ab/base.node
    git worktree remove --force "$wt"
    echo base > build/ab/order.txt
    echo "built base ($KVQ_AB_BASE_REV)"
  fi
  echo "$VARIANTS" | tr ';' '\n' | while IFS= read -r v; do
    [ -n "$v" ] || continue
    name=${v%%:*}
    KVQ_NVCC_FLAGS="${v#*:}" KVQ_CUDA_ARCHS=90 node scripts/build-native.mjs --force > build/ab/$name.log 2>&1 ||
      { tail -20 build/ab/$name.log; exit 1; }
    cp build/Release/kvq_cuda.node build/ab/$name.node
    echo "$name" >> build/ab/order.txt
    echo "built $name (${v#*:})"
  done
  (cd build/ab && tar -cJf ../ab.tar.xz ./*.node order.txt)
  node bench/build.mjs
  ls -la build/ab.tar.xz
  ;;
run)
  OUT=${2:?usage: ab-variants.sh run OUTDIR}
  # everything is written to R and packed into OUTDIR/ab.tgz at the end (the device tool brings back
  # only a few files per call)
  R=/tmp/kvq-ab-out && rm -rf $R && mkdir -p $R
  A=/tmp/kvq-ab && rm -rf $A && mkdir -p $A && tar -xJf build/ab.tar.xz -C $A
  # the variants built (order.txt), or those named in KVQ_AB_VARIANTS
  if [ -z "${KVQ_AB_VARIANTS:-}" ] && [ -f $A/order.txt ]; then names=$(cat $A/order.txt); else
    names=$(echo "$VARIANTS" | tr ';' '\n' | sed 's/:.*//' | grep .); fi
  first=$(echo "$names" | head -1)
  formats=${KVQ_AB_FORMATS:-fp16,kivi-2,kivi-2/g128,k4v2/g128,aqua-2.5 pages,kvq-2 K2/V2 pages}
  sweepFormats=${KVQ_AB_SWEEP_FORMATS:-kivi-2,kivi-2/g128,aqua-2.5 pages}
  sweepBatch=${KVQ_AB_SWEEP_BATCH:-1} sweepSplits=${KVQ_AB_SWEEP_SPLITS:-2,4,8,16}
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$R/gpu.txt" || true
  # stay inside one device call: nothing new starts after KVQ_AB_BUDGET seconds (default 400)
  t0=$(date +%s) budget=${KVQ_AB_BUDGET:-400}
  left() { [ $(( $(date +%s) - t0 )) -lt "$1" ]; }
  # GPU tests of every variant, or of those named in KVQ_AB_TEST_VARIANTS (space-separated; about 40 s each)
  for n in ${KVQ_AB_TEST_VARIANTS:-$names}; do
    left $((budget / 3)) || { echo "skipped (time)" > "$R/tests-$n.txt"; continue; }
    KVQ_CUDA_ADDON=$A/$n.node timeout 180 node bench/dist/gpu-tests.mjs > "$R/tests-$n.txt" 2>&1 || true
  done
  timeout 120 python3 bench/torch_sdpa.py "$R/torch.json" > "$R/torch.txt" 2>&1 || true
  for n in $names; do
    left $((budget - 60)) || { echo "skipped (time)" > "$R/$n.txt"; continue; }
    KVQ_CUDA_ADDON=$A/$n.node KVQ_BENCH_PARTS=attn KVQ_BENCH_FORMATS="$formats" timeout 120 node bench/dist/run.mjs "$R/torch.json" "$R/$n.json" > "$R/$n.txt" 2>&1 || true
  done
  # split sweep with the first variant, or those named in KVQ_AB_SWEEP_VARIANTS (KVQ_AB_SWEEP=0 skips it)
  for n in ${KVQ_AB_SWEEP_VARIANTS:-$first}; do
    [ "${KVQ_AB_SWEEP:-1}" != 0 ] && left "$budget" || break
    KVQ_CUDA_ADDON=$A/$n.node KVQ_BENCH_PARTS=none KVQ_BENCH_SWEEP="$sweepFormats" \
      KVQ_BENCH_SWEEP_BATCH="$sweepBatch" KVQ_BENCH_SWEEP_SPLITS="$sweepSplits" timeout 120 node bench/dist/run.mjs "" "$R/sweep-$n.json" > "$R/sweep-$n.txt" 2>&1 || true
  done
  # Nsight Compute on single shapes (KVQ_AB_NCU="format|B|ctx|split;…", with the variant KVQ_AB_NCU_VARIANT,
  # default the first): bench/ncu-shape.sh's report of each into ncu-<i>.txt
  i=0
  echo "${KVQ_AB_NCU:-}" | tr ';' '\n' | while IFS='|' read -r f b c sp; do
    [ -n "$f" ] || continue
    i=$((i + 1))
    left "$((budget + 60))" || { echo "skipped (time)" > "$R/ncu-$i.txt"; continue; }
    echo "$f, B=$b, ctx=$c, split=$sp" > "$R/ncu-$i-summary.txt"
    KVQ_CUDA_ADDON=$A/${KVQ_AB_NCU_VARIANT:-$first}.node timeout 90 sh bench/ncu-shape.sh "$R/ncu-$i.txt" "$f" "$b" "$c" "$sp" \
      >> "$R/ncu-$i-summary.txt" 2>&1 || true
  done
  cat "$R/gpu.txt"
  for n in $names; do printf '%s: ' "$n"; grep -s "GPU TESTS" "$R/tests-$n.txt" || echo 'no test summary (not run: KVQ_AB_TEST_VARIANTS, or time)'; done
  for n in $names; do echo "== $n"; grep '^attn' "$R/$n.txt" | sed 's/, [0-9]* GB.s//;s/^attn //'; done
  for f in "$R"/sweep-*.txt; do
    [ -f "$f" ] || continue
    n=${f##*/sweep-}; echo "== sweep (${n%.txt}, B=$sweepBatch)"; grep '^attn' "$f" | sed 's/, [0-9]* GB.s//;s/^attn //'
  done
  for f in "$R"/ncu-*-summary.txt; do
    [ -f "$f" ] || continue
    echo "== ncu $(head -1 "$f")"; sed -n '2,$s/^ *//p' "$f" | cut -c1-100
  done
  tar -czf "$OUT/ab.tgz" -C "$R" .
  ;;
*)
  sed -n '2,/^set -e/p' "$0" | sed '$d'
  exit 2
  ;;
esac
