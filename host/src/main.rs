//! The `weir` binary: everything lives in the library; see `weir::cli`.

/// Keeps a length field in a client's request from aborting the broker.
#[global_allocator]
static ALLOC: weir::alloc::LazyHugeAlloc = weir::alloc::LazyHugeAlloc;

fn main() -> std::process::ExitCode {
    weir::cli::main()
}
