// Keeps the records whose value contains the config key `pattern`.
// Bindings come from `wit-bindgen c` (gen/, written by build.sh); the batch arrives flat, so
// a record is six numbers, its value a span of batch->data, and the answer is the indices to keep.
#include <stdlib.h>
#include <string.h>
#include <wasm_simd128.h>

#include "gen/transform.h"

static transform_string_t pattern;
// 0: not read yet, 1: read, -1: missing.
static int pattern_state = 0;

static void set_message(transform_string_t *s, const char *text) {
    size_t n = strlen(text);
    s->ptr = malloc(n ? n : 1);
    s->len = s->ptr ? n : 0;
    if (s->ptr) memcpy(s->ptr, text, n);
}

static bool contains_scalar(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i + 1, needle + 1, m - 1) == 0) return true;
    }
    return false;
}

// Candidates 16 positions at a time with Wasm SIMD: a position is a candidate when the
// needle's first and last bytes both match there. Up to 4 blocks per call, unrolled into
// straight-line code in a function of its own (a vector loop would carry wasmtime's epoch
// check on its back-edge, which makes Cranelift spill the splatted bytes on every step; see
// ARCHITECTURE.md). `range` packs the first position `at` and the position count; `shape` the
// needle's first and last bytes and their distance. Bit k of the answer: position at + k.
__attribute__((noinline)) static uint64_t candidates(const uint8_t *p, uint64_t range,
                                                     uint64_t shape) {
    size_t at = (uint32_t)range, positions = (size_t)(range >> 32);
    size_t gap = (size_t)(shape >> 32);
    v128_t first = wasm_u8x16_splat((uint8_t)shape), last = wasm_u8x16_splat((uint8_t)(shape >> 8));
    uint64_t mask = 0;
    for (int k = 0; k < 4; k++) {
        size_t wanted = at + 16 * (size_t)k;
        if (wanted >= positions) break;
        // The last block is read from positions - 16 so that no load passes the end; the
        // positions it repeats are shifted out.
        size_t start = wanted < positions - 16 ? wanted : positions - 16;
        v128_t a = wasm_v128_load(p + start), b = wasm_v128_load(p + start + gap);
        uint32_t hits = wasm_i8x16_bitmask(wasm_v128_and(wasm_i8x16_eq(a, first), wasm_i8x16_eq(b, last)));
        mask |= (uint64_t)(hits >> (wanted - start)) << (16 * k);
    }
    return mask;
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m) {
    if (m == 0) return true;
    if (m < 2 || n < m + 15) return contains_scalar(hay, n, needle, m);
    size_t positions = n - m + 1, gap = m - 1;
    uint64_t shape = needle[0] | (uint64_t)needle[gap] << 8 | (uint64_t)gap << 32;
    for (size_t at = 0; at < positions; at += 64) {
        uint64_t mask = candidates(hay, at | (uint64_t)positions << 32, shape);
        while (mask) {
            size_t pos = at + (size_t)__builtin_ctzll(mask);
            // The middle byte by byte: memcmp is a call to a byte loop in Wasm anyway.
            size_t j = 1;
            while (j < gap && hay[pos + j] == needle[j]) j++;
            if (j >= gap) return true;
            mask &= mask - 1;
        }
    }
    return false;
}

bool exports_weir_plugin_transformer_process(exports_weir_plugin_transformer_origin_t *origin,
                                             exports_weir_plugin_transformer_batch_t *batch,
                                             exports_weir_plugin_transformer_transform_output_t *ret,
                                             exports_weir_plugin_transformer_transform_error_t *err) {
    bool ok = true;
    if (pattern_state == 0) {
        transform_string_t key = {(uint8_t *)"pattern", 7};
        pattern_state = weir_plugin_config_get(&key, &pattern) ? 1 : -1;
    }
    if (pattern_state < 0) {
        err->tag = EXPORTS_WEIR_PLUGIN_TRANSFORMER_TRANSFORM_ERROR_INVALID_CONFIG;
        set_message(&err->val.invalid_config, "missing config key `pattern`");
        ok = false;
    } else {
        // Six numbers per record: key offset/length, value offset/length, headers.
        size_t n = batch->records.len / 6;
        uint32_t *keep = malloc(n ? n * sizeof(uint32_t) : 1);
        size_t kept = 0;
        if (keep == NULL) {
            err->tag = EXPORTS_WEIR_PLUGIN_TRANSFORMER_TRANSFORM_ERROR_FAILED;
            set_message(&err->val.failed, "out of memory");
            ok = false;
        } else {
            for (size_t i = 0; i < n; i++) {
                uint32_t offset = batch->records.ptr[6 * i + 2];
                uint32_t len = batch->records.ptr[6 * i + 3];
                if (len == UINT32_MAX) continue;  // a tombstone
                // A span past the buffer is treated as no match, never read.
                if ((uint64_t)offset + len > batch->data.len) continue;
                if (contains(batch->data.ptr + offset, len, pattern.ptr, pattern.len)) {
                    keep[kept++] = (uint32_t)i;
                }
            }
            ret->emit.tag = WEIR_PLUGIN_TYPES_EMIT_KEEP;
            ret->emit.val.keep.ptr = keep;
            ret->emit.val.keep.len = kept;
            ret->failures.ptr = NULL;
            ret->failures.len = 0;
        }
    }
    // The arguments belong to the callee.
    exports_weir_plugin_transformer_batch_free(batch);
    exports_weir_plugin_transformer_origin_free(origin);
    return ok;
}
