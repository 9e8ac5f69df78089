//! Text to typed syntax tree. Pest types never leave this module.

pub mod ast;
mod comments;
mod error_hints;
mod fast;
mod format;
mod grammar;
mod literal;
mod parser;

pub use comments::{Comment, comments};
pub use format::format;
pub use parser::{MAX_FILE_BYTES, MAX_NESTING, parse, parse_with_pest, pest_pairs};
