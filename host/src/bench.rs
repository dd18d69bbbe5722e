//! Benchmarks (`weir bench`).
