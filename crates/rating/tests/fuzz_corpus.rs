//! The fuzz targets on stable, for CI: every input of `fuzz/corpus/<target>/`
//! (grown and minimized by `scripts/fuzz`, libFuzzer on nightly) goes
//! through the same target bodies (`fuzz/src/targets.rs`), then a few
//! seconds of random mutations of those inputs. A crash the fuzzer found
//! and the engine fixed stays fixed: its input is in the corpus.

#[allow(dead_code)]
#[path = "../../../fuzz/src/targets.rs"]
mod targets;

use proptest::prelude::*;
use rating::PriceBook;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a corpus file");
            (p, bytes)
        })
        .collect()
}

fn books() -> &'static [PriceBook] {
    static BOOKS: OnceLock<Vec<PriceBook>> = OnceLock::new();
    BOOKS.get_or_init(targets::books)
}

/// Runs `body` on every corpus input, naming the file that fails.
fn replay(target: &str, body: impl Fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&bytes)));
        if result.is_err() {
            panic!("fuzz target {target} fails on {}", path.display());
        }
    }
}

#[test]
fn price_book_corpus() {
    replay("price_book", targets::price_book);
}

#[test]
fn event_corpus() {
    replay("event", targets::event);
}

#[test]
fn quote_corpus() {
    replay("quote", |d| targets::quote(books(), d));
}

#[test]
fn record_corpus() {
    replay("record", |d| targets::record(books(), d));
}

/// One mutation of an input: overwrite, insert or delete a byte, or splice
/// in a piece of JSON that tends to matter.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Splice(usize, &'static str),
}

const PIECES: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "-1",
    "1e30",
    "0.0000000000000000000000000001",
    "79228162514264337593543950336",
    "\"NaN\"",
    "\"9999-12-31T23:59:59Z\"",
    "\\u0000",
    "\u{feff}",
];

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), prop::sample::select(PIECES)).prop_map(|(i, s)| Edit::Splice(i, s)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *e {
            Edit::Set(i, b) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            Edit::Insert(i, b) => bytes.insert(at(i, bytes.len()), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes.remove(i % n);
            }
            Edit::Splice(i, s) => {
                let i = at(i, bytes.len());
                bytes.splice(i..i, s.bytes());
            }
            _ => {}
        }
    }
    bytes
}

/// A target's name and its corpus inputs.
type Corpus = (&'static str, Vec<Vec<u8>>);

fn pick(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    static CORPORA: OnceLock<Vec<Corpus>> = OnceLock::new();
    let all = CORPORA.get_or_init(|| {
        ["price_book", "event", "quote", "record"]
            .into_iter()
            .map(|t| (t, corpus(t).into_iter().map(|(_, b)| b).collect()))
            .collect()
    });
    let inputs = all.iter().find(|(t, _)| *t == target).expect("a target").1.clone();
    (prop::sample::select(inputs), edits()).prop_map(|(b, e)| mutate(b, &e))
}

proptest! {
    // A short randomized run on top of the corpus: a few seconds in all. A
    // failure is kept in fuzz_corpus.proptest-regressions, as proptest does.
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn price_book_mutations(input in pick("price_book")) {
        targets::price_book(&input);
    }

    #[test]
    fn event_mutations(input in pick("event")) {
        targets::event(&input);
    }

    #[test]
    fn quote_mutations(input in pick("quote")) {
        targets::quote(books(), &input);
    }

    #[test]
    fn record_mutations(input in pick("record")) {
        targets::record(books(), &input);
    }

    #[test]
    fn record_random_bytes(input in prop::collection::vec(any::<u8>(), 0..160)) {
        targets::record(books(), &input);
    }
}
