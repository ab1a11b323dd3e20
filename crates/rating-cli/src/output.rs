//! Writing results (stdout) and errors (stderr) as pretty JSON.

use crate::error::CliError;
use serde_json::Value;
use std::io::Write;

/// Pretty JSON (2-space indent) with a trailing newline.
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// Prints a result on stdout.
pub fn print_json(value: &Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(pretty(value).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::io(format!("cannot write to stdout: {e}")))
}

/// Prints an error on stderr (nothing more can be done if that fails).
pub fn print_error(e: &CliError) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(pretty(&e.to_json()).as_bytes());
    let _ = err.flush();
}
