//! `pfi detect`'s `timestamp,value` CSV reader on arbitrary bytes, and a detector scoring what
//! it reads. Never a panic; one score per row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfi::predict::{Series, score_series};

fuzz_target!(|data: &[u8]| {
    let Ok(series) = Series::parse(data) else {
        return;
    };
    if series.len() <= 2_000
        && let Ok(scores) = score_series("ewma", &[], &series)
    {
        assert_eq!(scores.len(), series.len());
    }
});
