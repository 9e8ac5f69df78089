//! `pfi fmt` on arbitrary input: never a panic; formatting is idempotent when it succeeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(once) = pfi::syntax::format(Default::default(), &text) {
        let twice = pfi::syntax::format(Default::default(), &once).expect("formatted text parses");
        assert_eq!(once, twice);
    }
});
