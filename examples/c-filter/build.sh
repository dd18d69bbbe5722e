#!/usr/bin/env bash
# Builds the C filter: wit-bindgen c → clang (wasm32-wasi, reactor) → wasm-tools component new.
#   ./build.sh [OUT.wasm]      (needs clang, lld, wasi-libc, wit-bindgen, wasm-tools: scripts/setup)
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-c-filter.wasm}
wit-bindgen c ../../wit --world transform --out-dir gen >/dev/null
clang --target=wasm32-wasi --sysroot=/usr -O2 -msimd128 -mexec-model=reactor \
    -o gen/core.wasm app.c gen/transform.c gen/transform_component_type.o
wasm-tools component new gen/core.wasm -o "$out"
