#!/bin/sh
# Software Vulkan (Mesa lavapipe) for the WebGPU tests on CPU-only Linux machines (CI).
# Uses the project's shared script when present (../shared/tools/setup-vulkan-sw.sh from the
# repository root), else the same steps inline. Prints the environment to export:
#   eval "$(sh packages/kernels-webgpu/scripts/setup-vulkan.sh)"
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
DEST=${1:-/tmp/vk-sw}
for s in "$root/../shared/tools/setup-vulkan-sw.sh" "$root/shared/tools/setup-vulkan-sw.sh"; do
  if [ -f "$s" ]; then exec sh "$s" "$DEST"; fi
done
# Inline copy of the shared script's logic: Debian 12's lavapipe (Mesa 22.3) is too old for Dawn;
# Mesa from bookworm-backports is unpacked into $DEST (system change: only libvulkan1 and libllvm15).
mkdir -p "$DEST/debs" "$DEST/lists/partial" "$DEST/root"
if [ ! -f "$DEST/lvp_icd.json" ]; then
  apt-get install -y -q libvulkan1 libllvm15 >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -q libvulkan1 libllvm15 >/dev/null; }
  uri=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  [ -n "$uri" ] || uri=$(awk '/^deb / && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "deb $uri bookworm-backports main" > "$DEST/backports.list"
  A="-o Dir::Etc::SourceList=$DEST/backports.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$DEST/lists"
  apt-get $A update -qq >/dev/null
  (cd "$DEST/debs" && apt-get $A download mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 >/dev/null 2>&1)
  for f in "$DEST"/debs/*.deb; do dpkg -x "$f" "$DEST/root"; done
  LIB="$DEST/root/usr/lib/x86_64-linux-gnu"
  printf '{"file_format_version":"1.0.0","ICD":{"api_version":"1.4.305","library_path":"%s/libvulkan_lvp.so"}}\n' "$LIB" > "$DEST/lvp_icd.json"
fi
LIB="$DEST/root/usr/lib/x86_64-linux-gnu"
echo "export VK_ICD_FILENAMES=$DEST/lvp_icd.json LD_LIBRARY_PATH=$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} XDG_RUNTIME_DIR=/tmp"
