//! The pest parser generated from `grammar/pfi.pest`. Only `syntax::parser` uses it.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/pfi.pest"]
pub struct PfiParser;
