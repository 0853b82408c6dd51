use clap::Parser;
use std::process::ExitCode;

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
