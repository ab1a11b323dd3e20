//! The CLI's error: the engine's error plus the file argument it concerns.

use rating::error::Problem;
use serde_json::{json, Value};

/// Code for a file that cannot be read or an output that cannot be written.
pub const IO_ERROR: rating::error::Code = rating::error::codes::IO_ERROR;

/// An error as the CLI reports it: the engine's error, plus the file
/// argument it concerns (an extension of the error shape of docs/contract.md §9).
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

    /// Names the file argument the error is about (`Input::name`).
    pub fn in_file(mut self, file: String) -> CliError {
        self.file = Some(file);
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
