#!/usr/bin/env bash
# The quantizers' self-test (native/test/quant_selftest.cc: every fast path against its scalar
# reference, bit for bit) cross-compiled for linux-arm64 with Debian's g++-aarch64-linux-gnu
# and run under qemu-user: what the linux-arm64 prebuild runs (the portable paths; the x86
# kernels are compiled out). Outside `npm test`: it needs the cross toolchain
# (bash scripts/setup-system.sh cross).
#
# Usage: bash scripts/arm64-check.sh [--native] [--full]
#   --native  also build and run the self-test for this (x86-64) machine, with and without AVX2
#   --full    the full shapes under qemu too (default there: --quick, emulation is slow)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
native=0
full=0
for a in "$@"; do
  case "$a" in
    --native) native=1 ;;
    --full) full=1 ;;
    *)
      echo "usage: bash scripts/arm64-check.sh [--native] [--full]" >&2
      exit 2
      ;;
  esac
done

bash "$root/scripts/setup-system.sh" cross

# The sources the quantizers need (no N-API), compiled with binding.gyp's flags.
sources=()
for d in common quant threads linalg metrics; do
  while IFS= read -r f; do sources+=("$f"); done < <(find "$root/native/src/$d" -name '*.cc' | sort)
done
sources+=("$root/native/test/quant_selftest.cc")
flags=(-std=c++17 -fexceptions -O3 -pthread -Wall -Wextra -Wno-unused-parameter -I "$root/native/src")

# build <compiler> <out dir> [extra flags...]: objects in parallel (2 at a time), then link.
build() {
  local cxx="$1" out="$2"
  shift 2
  mkdir -p "$out/obj"
  local objs=()
  for src in "${sources[@]}"; do
    local rel="${src#"$root"/native/}"
    objs+=("$out/obj/${rel//\//_}.o")
  done
  # Stale objects (source, or any header, newer) recompile, two at a time.
  local i running=0
  for i in "${!sources[@]}"; do
    local src="${sources[$i]}" obj="${objs[$i]}"
    if [[ -e "$obj" && ! "$src" -nt "$obj" && -z "$(find "$root/native/src" -name '*.h' -newer "$obj" -print -quit)" ]]; then
      continue
    fi
    echo "  CXX ${src#"$root"/}"
    "$cxx" "${flags[@]}" "$@" -c "$src" -o "$obj" &
    if ((++running >= 2)); then
      wait -n
      running=$((running - 1))
    fi
  done
  while ((running > 0)); do
    wait -n
    running=$((running - 1))
  done
  "$cxx" "${flags[@]}" "$@" -o "$out/quant_selftest" "${objs[@]}"
}

status=0
if ((native)); then
  echo "== linux-x64 (native build)"
  build g++ "$root/native/build/selftest-x64" -march=x86-64-v2
  "$root/native/build/selftest-x64/quant_selftest" || status=1
  echo "== linux-x64, BITSMITH_NO_AVX2=1 (the portable fast paths)"
  BITSMITH_NO_AVX2=1 "$root/native/build/selftest-x64/quant_selftest" || status=1
fi

echo "== linux-arm64 (aarch64-linux-gnu-g++, run under qemu-aarch64)"
build aarch64-linux-gnu-g++ "$root/native/build/selftest-arm64"
file "$root/native/build/selftest-arm64/quant_selftest" 2>/dev/null | sed 's/^.*: /  /' || true
args=(--quick)
((full)) && args=()
qemu-aarch64 -L /usr/aarch64-linux-gnu "$root/native/build/selftest-arm64/quant_selftest" "${args[@]}" || status=1
exit $status
