#!/usr/bin/env bash
# Builds and tests every package. Used by the README's test command and by .ci/run.
# Sets up what the suites need on a CPU-only Debian machine: software Vulkan for WebGPU
# (../shared/tools/setup-vulkan-sw.sh). A piece that cannot be set up is reported loudly here, and
# the tests that need it report as skipped with the reason (never as passed).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
shared=${KVQ_SHARED_DIR:-$(pwd)/../shared}
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$shared/tools/setup-vulkan-sw.sh" ]; then
  if vkenv=$(sh "$shared/tools/setup-vulkan-sw.sh" /tmp/kvq-vk-sw 2>/tmp/kvq-vk-sw.log); then
    eval "$vkenv"; echo "test-all: software Vulkan ready ($VK_ICD_FILENAMES)"
  else
    echo "test-all: WARNING software Vulkan could not be set up (see /tmp/kvq-vk-sw.log); WebGPU tests will be skipped with that reason" >&2
  fi
fi
# headless Chromium for the WebGPU browser smoke test (Debian's package; the test skips, with the reason, without it)
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -q chromium >/tmp/kvq-chromium.log 2>&1 || { apt-get update -qq && apt-get install -y -q chromium; } >>/tmp/kvq-chromium.log 2>&1) \
    && echo "test-all: installed chromium" || echo "test-all: WARNING chromium could not be installed (see /tmp/kvq-chromium.log); the browser test will be skipped with that reason" >&2
fi
# Debian's redis-server for @kvq/store's Redis tests (they start their own on loopback; skipped, with the reason, without it)
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -q redis-server >/tmp/kvq-redis.log 2>&1 || { apt-get update -qq && apt-get install -y -q redis-server; } >>/tmp/kvq-redis.log 2>&1) \
    && echo "test-all: installed redis-server" || echo "test-all: WARNING redis-server could not be installed (see /tmp/kvq-redis.log); the Redis tests will be skipped with that reason" >&2
fi
# the apt package starts a system redis on 6379; the tests use their own servers on free ports
pnpm exec biome check .
pnpm exec turbo run build
log=$(mktemp)
set +e
pnpm exec turbo run test --concurrency=2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# one closing line over every package's vitest summary ("Tests  N failed | N passed | N skipped (T)")
sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /Tests +[0-9]/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "passed") p += $(i-1); else if ($i == "failed") f += $(i-1); else if ($i == "skipped") s += $(i-1);
    }
  }
  END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }'
rm -f "$log"
exit "$status"
