#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rating_fuzz::targets::price_book(data));
