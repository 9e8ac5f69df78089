//! Parser + checker on arbitrary bytes: never a panic, and every error has a place.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let checked = pfi::check::check_text(Path::new("fuzz/input.pfi"), &text);
    for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
        assert!(d.primary_span().is_some(), "{d:?} has no place");
    }
});
