#!/usr/bin/env bash
# The Debian packages the test suite needs, installed when missing (as root, or through
# passwordless sudo); elsewhere it stops with the exact command to run. Called by `npm test`
# and by .ci/run, so both install the same things the same way.
#
#   e2e   the end-to-end suite: Debian's Chromium (driven by Playwright), ripgrep (VS Code's
#         search) and libkrb5-dev (code-server's kerberos module builds against it)
#   fuzz  the native fuzzers: clang with libFuzzer and the sanitizer runtimes
#   cross the linux-arm64 prebuild and its check (npm run prebuild:arm64, scripts/arm64-check.sh):
#         Debian's aarch64 cross compiler and qemu-user; not part of the default set
#
# Usage: bash scripts/setup-system.sh [e2e] [fuzz] [cross]   (none: e2e and fuzz; idempotent,
# quick when present)
set -euo pipefail

groups=("$@")
((${#groups[@]})) || groups=(e2e fuzz)

packages=()
want() { packages+=("$1"); }
for g in "${groups[@]}"; do
  case "$g" in
    e2e)
      [[ -x /usr/bin/chromium ]] || want chromium
      command -v rg >/dev/null 2>&1 || want ripgrep
      [[ -e /usr/include/krb5.h || -e /usr/include/krb5/krb5.h ]] || want libkrb5-dev
      ;;
    fuzz)
      command -v clang++-14 >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 || want clang-14
      ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 \
        || ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 \
        || want libclang-rt-14-dev
      ;;
    cross)
      command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || want g++-aarch64-linux-gnu
      command -v qemu-aarch64 >/dev/null 2>&1 || want qemu-user
      ;;
    *)
      echo "scripts/setup-system.sh: unknown group '$g' (e2e, fuzz, cross)" >&2
      exit 2
      ;;
  esac
done

if ((${#packages[@]} == 0)); then
  echo "system packages: present (${groups[*]})"
  exit 0
fi

hint="apt-get update && apt-get install -y ${packages[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/setup-system.sh: missing ${packages[*]} and this is not a Debian-based system;" >&2
  echo "install the equivalents of: $hint" >&2
  exit 1
fi
sudo=()
if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "scripts/setup-system.sh: missing system packages: ${packages[*]}" >&2
    echo "install them as root:  $hint" >&2
    exit 1
  fi
fi
echo "installing ${packages[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
echo "system packages: installed ${packages[*]}"
