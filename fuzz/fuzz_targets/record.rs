#![no_main]

use std::sync::OnceLock;

static BOOKS: OnceLock<Vec<rating::PriceBook>> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let books = BOOKS.get_or_init(rating_fuzz::targets::books);
    rating_fuzz::targets::record(books, data)
});
