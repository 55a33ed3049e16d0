#!/usr/bin/env bash
# Installs the end-to-end test package (test/e2e/node_modules): code-server 4.100.3, playwright-core,
# @vscode/vsce, @vscode/test-electron, mocha. Works offline from the npm registry alone: nothing
# downloads a binary from anywhere else. Debian's chromium, ripgrep and libkrb5-dev (code-server's
# kerberos module builds against it) come from scripts/setup-system.sh, which installs them when
# it can and otherwise prints the command to run.
#
# Usage: bash test/e2e/setup.sh   (from anywhere; idempotent, quick when already installed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

bash ../../scripts/setup-system.sh e2e

# Same lock, same install: skip the (minute-long) npm run when node_modules matches the lock.
if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json \
      && -x node_modules/.bin/code-server && -d node_modules/playwright-core ]]; then
  echo "test/e2e: dependencies already installed"
  exit 0
fi

# @vscode/ripgrep (a code-server dependency) downloads ripgrep in its postinstall unless the
# release tarball is already in its cache folder: put Debian's rg there.
export TMPDIR=${TMPDIR:-/tmp}
cache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache"
tar czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg

# npm_config_yes: node-pty's postinstall runs `npx node-gyp`, which would prompt, be cancelled and
#   roll the whole install back.
# npm_config_unsafe_perm: code-server's postinstall refuses to run as root without it.
export npm_config_yes=true npm_config_unsafe_perm=true
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
# code-server writes a default config into $XDG_CONFIG_HOME even for --version: give it a scratch one.
probe=$(mktemp -d)
XDG_CONFIG_HOME=$probe XDG_DATA_HOME=$probe node_modules/.bin/code-server --version >/dev/null 2>&1 </dev/null \
  || { rm -rf "$probe"; echo "test/e2e/setup.sh: code-server does not start (see npm's output above)" >&2; exit 1; }
rm -rf "$probe"
echo "test/e2e: dependencies installed"
