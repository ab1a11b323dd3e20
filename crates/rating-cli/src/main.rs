//! `rating`: the pricing engine on the command line.
//!
//! Every subcommand reads JSON files (or stdin for `-`), calls the engine
//! and prints one JSON document on stdout. Failures print
//! `{"error": {...}}` on stderr and exit 1; usage errors exit 2 (clap).
//! See `rating --help` and docs/contract.md §9.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod error;
mod input;
mod output;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = cli.command.check_stdin_once() {
        e.exit();
    }
    let result = match &cli.command {
        Command::Check { book } => commands::check(book),
        Command::Quote { book, request } => commands::quote(book, request),
        Command::Compare { book, usage } => commands::compare(book, usage),
        Command::Replay {
            book,
            events,
            subscriptions,
            at,
            receipts,
        } => commands::replay::replay(book, events, subscriptions, at, receipts.as_deref()),
        Command::Diff {
            old_book,
            new_book,
            events,
            subscriptions,
            at,
        } => commands::replay::diff(old_book, new_book, events, subscriptions, at),
    };
    // `replay` streams its (possibly large) document itself and returns null.
    match result.and_then(|value| {
        if value.is_null() {
            Ok(())
        } else {
            output::print_json(&value)
        }
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}
