#!/usr/bin/env bash
# Runs Bitsmith's GGUF output in llama.cpp (outside npm test; see scripts/llama-cpp-check.mjs).
#   LLAMA_CPP_DIR=/path/to/llama.cpp/build scripts/llama-cpp-check.sh      # llama-simple of a llama.cpp build
#   NODE_LLAMA_CPP_DIR=/tmp/llama scripts/llama-cpp-check.sh               # node-llama-cpp installed in that folder
#     (e.g. mkdir /tmp/llama && cd /tmp/llama && npm init -y && npm install node-llama-cpp)
# Needs `npm install` (dist/cli.js and the native addon) first. Exit 0 when the f32 GGUF
# reproduces the fixture's reference greedy tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${LLAMA_CPP_DIR:-}" && -z "${NODE_LLAMA_CPP_DIR:-}" ]]; then
  echo "set LLAMA_CPP_DIR (a llama.cpp build with llama-simple) or NODE_LLAMA_CPP_DIR (a folder with node_modules/node-llama-cpp)" >&2
  exit 2
fi
exec node scripts/llama-cpp-check.mjs
