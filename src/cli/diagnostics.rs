//! Printing diagnostics for every command that reads a scenario.

use crate::check::Checked;
use crate::diagnostic::{render_human, render_json};
use clap::ValueEnum;
use std::io::IsTerminal;

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people: the source with the span underlined, on stderr.
    #[default]
    Human,
    /// One JSON object per line on stdout, for editors and CI.
    Json,
}

/// Prints every diagnostic of a checked scenario.
pub fn print_diagnostics(checked: &Checked, format: Format) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for d in &checked.diagnostics {
        match format {
            Format::Human => eprint!("{}", render_human(d, &checked.sources, color)),
            Format::Json => println!("{}", render_json(d, &checked.sources)),
        }
    }
}
