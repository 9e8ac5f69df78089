/// mimalloc instead of the system allocator: checking a big scenario builds hundreds of
/// thousands of small strings and vectors, and glibc's malloc and free were a third of
/// `pfi check`'s time on the 10,000-resource benchmark (`benches/check.rs`). Set by each
/// binary and benchmark, not by the library.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    pfi::cli::main()
}
