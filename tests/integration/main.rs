//! Integration tests: one binary, one module per command or capability.

mod detect;
