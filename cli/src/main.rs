//! `kx`: the KX command line for provider admins, federation stewards and
//! municipalities.
//!
//! Exit codes (stable, for scripts):
//! - 0: success
//! - 1: the command failed (file not readable, bad key file, ...)
//! - 2: usage error (unknown flag, missing argument)
//! - 3: a record is invalid or was rejected; the message names the error code
//!
//! A closed stdout (e.g. `kx ... | head`) ends the command quietly with 0.

mod client;
mod commands;
mod demo;
mod govern;
mod offline;
mod publish;
mod query;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            if e.chain()
                .any(|c| c.downcast_ref::<commands::Rejected>().is_some())
            {
                ExitCode::from(3)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
