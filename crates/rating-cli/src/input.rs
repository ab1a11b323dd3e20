//! Input files: a path, or `-` for stdin.

use crate::error::CliError;
use rating::error::Problem;
use serde_json::Value;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

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
    /// Opens the input for streaming, line by line. A gzip stream (by its
    /// magic bytes) is decompressed; a directory is read as the
    /// concatenation of its `.ndjson` and `.ndjson.gz` files in name order
    /// (an export of the event log, docs/event-log.md).
    pub fn lines(&self) -> Result<Box<dyn BufRead>, CliError> {
        let fail = |what: &std::path::Path, e: std::io::Error| {
            CliError::io(format!("cannot read {}: {e}", what.display())).in_file(self.name())
        };
        match self {
            Input::Stdin => ungzip(Box::new(BufReader::new(std::io::stdin()))).map_err(|e| fail(Path::new("-"), e)),
            Input::Path(p) if p.is_dir() => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|e| fail(p, e))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|f| {
                        let name = f.file_name().and_then(OsStr::to_str).unwrap_or("");
                        name.ends_with(".ndjson") || name.ends_with(".ndjson.gz")
                    })
                    .collect();
                files.sort();
                let mut all: Box<dyn BufRead> = Box::new(std::io::empty());
                for f in files {
                    let file = open(&f).map_err(|e| fail(&f, e))?;
                    // A file that does not end its last line still ends it.
                    all = Box::new(all.chain(file).chain(&b"\n"[..]));
                }
                Ok(all)
            }
            Input::Path(p) => open(p).map_err(|e| fail(p, e)),
        }
    }

    pub fn read_json(&self) -> Result<Value, CliError> {
        let text = self.read_text()?;
        rating::json::parse_json(&text).map_err(|p| CliError::from(p).in_file(self.name()))
    }
}

/// A file, decompressed if it is gzip.
fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    ungzip(Box::new(BufReader::with_capacity(1 << 16, std::fs::File::open(path)?)))
}

/// The stream, decompressed when it starts with gzip's magic bytes (a
/// multi-member file, as concatenated log objects make, reads whole).
fn ungzip(mut r: Box<dyn BufRead>) -> std::io::Result<Box<dyn BufRead>> {
    if r.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(r);
        return Ok(Box::new(BufReader::with_capacity(1 << 16, gz)));
    }
    Ok(r)
}
