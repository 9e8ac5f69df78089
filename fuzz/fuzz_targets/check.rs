//! Parser + checker on arbitrary bytes, read as `pfi check` reads a file: never a panic, every
//! error has a place, and every diagnostic renders (for people and as JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfi::diagnostic::{Code, render_human, render_json};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let checked = pfi::check::check_bytes(Path::new("fuzz/input.pfi"), data);
    for d in &checked.diagnostics {
        if d.is_error() && d.code != Code::Unreadable {
            assert!(d.primary_span().is_some(), "{d:?} has no place");
        }
        let human = render_human(d, &checked.sources, false);
        assert!(human.contains(d.code.as_str()), "{human}");
        let json: serde_json::Value =
            serde_json::from_str(&render_json(d, &checked.sources)).expect("JSON");
        assert!(json.is_object());
    }
});
