//! Writing results (stdout) and errors (stderr) as pretty JSON.

use crate::input::Input;
use rating::error::Problem;
use serde_json::{json, Value};
use std::io::Write;

/// Code for a file that cannot be read or an output that cannot be written.
pub const IO_ERROR: rating::error::Code = rating::error::codes::IO_ERROR;

/// An error as the CLI reports it: the engine's error, plus the file
/// argument it concerns (an extension of SPEC §9's error shape).
#[derive(Debug)]
pub struct CliError {
    /// The error.
    pub error: rating::Error,
    /// The argument the error is about, as given (`-` for stdin).
    pub file: Option<String>,
}

impl CliError {
    /// An `io_error`.
    pub fn io(message: String) -> CliError {
        CliError::from(Problem::general(IO_ERROR, message))
    }

    /// Names the file argument the error is about.
    pub fn in_file(mut self, input: &Input) -> CliError {
        self.file = Some(input.name());
        self
    }

    /// `{"error": {"code", "message", "path"?, "errors"?, "file"?}}`.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::to_value(&self.error)
            .unwrap_or_else(|_| json!({"code": self.error.code, "message": self.error.message}));
        if let (Some(file), Some(obj)) = (&self.file, body.as_object_mut()) {
            obj.insert("file".to_string(), Value::String(file.clone()));
        }
        json!({ "error": body })
    }
}

impl From<rating::Error> for CliError {
    fn from(error: rating::Error) -> CliError {
        CliError { error, file: None }
    }
}

impl From<Problem> for CliError {
    fn from(p: Problem) -> CliError {
        CliError::from(rating::Error::one(p))
    }
}

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
