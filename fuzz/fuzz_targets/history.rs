//! The history loader (`history "incidents.csv"` / `.json`) on arbitrary text, as CSV and as
//! JSON, and the rate table built from what loads. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfi::model::RateTable;
use pfi::model::history::{Format, parse, parse_duration_ms, parse_rfc3339};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::Csv, Format::Json] {
        match parse(&text, format) {
            Ok(history) => {
                let _ = history.span_s();
                let _ = RateTable::from_history(&history);
            }
            Err(rows) => assert!(!rows.is_empty(), "an error without a row"),
        }
    }
    let _ = parse_duration_ms(&text);
    let _ = parse_rfc3339(&text);
});
