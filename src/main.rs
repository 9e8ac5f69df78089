fn main() -> std::process::ExitCode {
    pfi::cli::main()
}
