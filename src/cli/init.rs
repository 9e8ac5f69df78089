//! `pfi init --from docker-compose.yml [-o system.pfi]`: a scenario drafted from an
//! infrastructure template (a Compose file, or a folder or file of Kubernetes manifests).

use super::exit;
use crate::analyze::{SystemMap, draft, read_compose};
use crate::diagnostic::{Diagnostics, SourceMap, render_human, render_json};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The template: a Compose file, or a folder (or file) of Kubernetes manifests.
    #[arg(long)]
    pub from: PathBuf,
    /// Where to write the scenario (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The experiment's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Read the template as `compose` or `k8s` (default: a folder or a file with `kind:` is
    /// Kubernetes, anything else Compose).
    #[arg(long, value_parser = ["compose", "k8s"])]
    pub kind: Option<String>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = super::diagnostics::Format::Human)]
    pub format: super::diagnostics::Format,
}

pub fn run(args: InitArgs) -> ExitCode {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let kubernetes = match args.kind.as_deref() {
        Some(kind) => kind == "k8s",
        None => looks_like_kubernetes(&args.from),
    };
    let system: Option<SystemMap> = if kubernetes {
        crate::analyze::read_kubernetes(&args.from, &mut sources, &mut diagnostics)
    } else {
        match std::fs::read_to_string(&args.from) {
            Ok(text) => {
                let file = sources.add(args.from.clone(), text);
                read_compose(&sources, file, &mut diagnostics)
            }
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", args.from.display());
                return ExitCode::from(exit::BAD_INPUT);
            }
        }
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for d in diagnostics.into_sorted() {
        match args.format {
            super::diagnostics::Format::Human => eprint!("{}", render_human(&d, &sources, color)),
            super::diagnostics::Format::Json => println!("{}", render_json(&d, &sources)),
        }
    }
    let Some(system) = system else {
        eprintln!(
            "error: nothing could be read from `{}`",
            args.from.display()
        );
        return ExitCode::from(exit::BAD_INPUT);
    };
    let drafted = draft(&system, args.seed, !kubernetes);
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &drafted.text) {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return ExitCode::from(exit::ENVIRONMENT);
            }
            eprintln!(
                "wrote {}: {} services, {} dependencies, {} links, {} faults ranked by the risk model",
                path.display(),
                system.services.len(),
                drafted.dependencies,
                drafted.links,
                drafted.ranked_faults.len()
            );
        }
        None => print!("{}", drafted.text),
    }
    ExitCode::from(exit::OK)
}

/// A folder, or a YAML file with a top-level `kind:` and `apiVersion:`.
fn looks_like_kubernetes(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines().any(|l| l.starts_with("apiVersion:"))
            && text.lines().any(|l| l.starts_with("kind:"))
    })
}
