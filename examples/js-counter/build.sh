#!/usr/bin/env bash
# Builds the JS counter (a processor) with componentize-qjs (QuickJS, no WASI imports,
# synchronous exports).
#   ./build.sh [OUT.wasm]     (needs `npm ci` at the repository root: scripts/setup does it)
# `weir-guest` (guest-sdk/js, a workspace of the root package.json) resolves through the root
# node_modules/; the root is the module root the build may read imports from.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=../..
out=${1:-js-counter.wasm}
"$ROOT/node_modules/.bin/componentize-qjs" --wit "$ROOT/wit" --js app.js --module-root "$ROOT" \
    -n processor --stub-wasi --sync -o "$out"
