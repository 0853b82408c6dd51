use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: the delivery engine allocates
/// many small, short-lived buffers on several threads, where glibc's arenas
/// spend measurable time consolidating (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = herold::cli::Cli::parse();
    match herold::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
