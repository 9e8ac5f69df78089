//! The Toxiproxy API's toxic JSON: a body's `type`, `stream` and `attributes`, and the same
//! attributes given to every toxic type. Never a panic; a toxic that builds shows attributes
//! that build the same toxic again (what a partial update does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfi::proxy::Stream;
use pfi::proxy::toxics::{TOXIC_TYPES, build};
use serde_json::Value;

fn round_trip(type_name: &str, attributes: &Value) {
    if let Ok(toxic) = build(type_name, attributes) {
        let shown = toxic.attributes();
        let again = build(toxic.type_name(), &shown)
            .unwrap_or_else(|e| panic!("{type_name}: {shown} does not build again: {e}"));
        assert_eq!(again.attributes(), shown, "{type_name}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Some(stream) = body.get("stream").and_then(Value::as_str) {
        let _ = stream.parse::<Stream>();
    }
    let attributes = body.get("attributes").cloned().unwrap_or(Value::Null);
    if let Some(type_name) = body.get("type").and_then(Value::as_str) {
        round_trip(type_name, &attributes);
    }
    for toxic in TOXIC_TYPES {
        round_trip(toxic.name, &attributes);
        round_trip(toxic.name, &body);
    }
});
