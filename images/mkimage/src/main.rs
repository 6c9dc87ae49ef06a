//! `mkimage` binary: parses the command line, runs the command, and reports failure as one
//! line `mkimage: <what went wrong>` with exit status 1, which is what make shows the user.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use mkimage::command_line::{self, Command, USAGE};

fn main() -> ExitCode {
    let outcome = command_line::parse(std::env::args_os().skip(1))
        .map_err(mkimage::Error::from)
        .and_then(|command| {
            if command == Command::Help {
                println!("{USAGE}");
            }
            mkimage::execute(&command)
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mkimage: {error}");
            ExitCode::FAILURE
        }
    }
}
