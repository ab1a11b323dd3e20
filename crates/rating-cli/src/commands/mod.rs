//! One function per subcommand: read the inputs, call the engine, return
//! the JSON to print.

pub mod replay;

use crate::error::CliError;
use crate::input::Input;
use rating::PriceBook;
use serde_json::{json, Value};

/// Reads and validates a price book.
pub(crate) fn read_book(input: &Input) -> Result<PriceBook, CliError> {
    let text = input.read_text()?;
    PriceBook::parse(&text).map_err(|e| CliError::from(e).in_file(input.name()))
}

/// `rating check BOOK`.
pub fn check(book: &Input) -> Result<Value, CliError> {
    let book = read_book(book)?;
    let doc = book.doc();
    Ok(json!({
        "ok": true,
        "id": doc.id,
        "price_book": book.hash(),
        "products": doc.products.len(),
        "plans": doc.plans.len(),
        "credit_packs": doc.credit_packs.len(),
        "overrides": doc.overrides.len(),
    }))
}

/// `rating quote BOOK REQUEST`.
pub fn quote(book: &Input, request: &Input) -> Result<Value, CliError> {
    let book = read_book(book)?;
    let req = request.read_json()?;
    rating::quote::quote_value(&book, &req).map_err(|e| CliError::from(e).in_file(request.name()))
}

/// `rating compare BOOK USAGE`.
pub fn compare(book: &Input, usage: &Input) -> Result<Value, CliError> {
    let book = read_book(book)?;
    let req = usage.read_json()?;
    rating::quote::compare_value(&book, &req).map_err(|e| CliError::from(e).in_file(usage.name()))
}
