//! Input files: a path, or `-` for stdin.

use crate::error::CliError;
use rating::error::Problem;
use serde_json::Value;
use std::ffi::OsStr;
use std::io::Read;
use std::path::PathBuf;

/// A file argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`: read standard input.
    Stdin,
    /// A file path.
    Path(PathBuf),
}

impl From<&OsStr> for Input {
    fn from(s: &OsStr) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(s))
        }
    }
}

impl Input {
    /// Whether this is `-`.
    pub fn is_stdin(&self) -> bool {
        matches!(self, Input::Stdin)
    }

    /// The argument as the user gave it, for error reports.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    /// Reads the whole input as UTF-8 text.
    pub fn read_text(&self) -> Result<String, CliError> {
        let shown = match self {
            Input::Stdin => "stdin".to_string(),
            Input::Path(p) => p.display().to_string(),
        };
        let mut bytes = Vec::new();
        let read = match self {
            Input::Stdin => std::io::stdin().lock().read_to_end(&mut bytes).map(|_| ()),
            Input::Path(p) => std::fs::read(p).map(|b| bytes = b),
        };
        if let Err(e) = read {
            return Err(CliError::io(format!("cannot read {shown}: {e}")).in_file(self.name()));
        }
        String::from_utf8(bytes).map_err(|_| {
            CliError::from(Problem::general(
                rating::error::codes::INVALID_JSON,
                format!("not valid JSON: {shown} is not UTF-8 text"),
            ))
            .in_file(self.name())
        })
    }

    /// Reads the input as JSON, keeping numbers' literal text.
    /// Opens the input for streaming, line by line.
    pub fn lines(&self) -> Result<Box<dyn std::io::BufRead>, CliError> {
        match self {
            Input::Stdin => Ok(Box::new(std::io::BufReader::new(std::io::stdin()))),
            Input::Path(p) => std::fs::File::open(p)
                .map(|f| Box::new(std::io::BufReader::with_capacity(1 << 16, f)) as Box<dyn std::io::BufRead>)
                .map_err(|e| CliError::io(format!("cannot read {}: {e}", p.display())).in_file(self.name())),
        }
    }

    pub fn read_json(&self) -> Result<Value, CliError> {
        let text = self.read_text()?;
        rating::json::parse_json(&text).map_err(|p| CliError::from(p).in_file(self.name()))
    }
}
