//! `pfi plan FILE`: check the scenario, sample its timeline and profile, and print them (as
//! text rendered by `report::plan_text`, or as JSON).

use super::diagnostics::{Format, print_diagnostics};
use super::exit;
use crate::check::check_file;
use crate::model::profile::{parse_top, profile_of};
use crate::model::thresholds::effective;
use crate::model::timeline;
use crate::report::{plan_text, profile_text};
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Override the experiment's seed (same file + same seed = same timeline).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the compiled plan and the timeline as JSON.
    #[arg(long)]
    pub json: bool,
    /// Plan only the faults of the top N scenarios of the fault injection profile (`top:N`),
    /// as `pfi run --profile top:N` runs them.
    #[arg(long, value_name = "top:N", value_parser = parse_top)]
    pub profile: Option<usize>,
}

pub fn run(args: PlanArgs) -> ExitCode {
    let checked = check_file(&args.file);
    print_diagnostics(&checked, Format::Human);
    let Some(mut plan) = checked.plan else {
        return ExitCode::from(exit::BAD_INPUT);
    };
    let seed = args.seed.unwrap_or(plan.experiment.seed);
    let profile = match profile_of(&plan, seed) {
        Ok(profile) => profile,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    if let Some(n) = args.profile {
        super::run::restrict_to_top(&mut plan, &profile, n);
    }
    let timeline = timeline(&plan, seed);
    let effective = effective(&plan);
    if args.json {
        let value = json!({
            "plan": plan,
            "timeline": timeline,
            "profile": profile,
            "effective_thresholds": effective,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        // Streamed: a big timeline is tens of megabytes of text.
        let stdout = std::io::stdout().lock();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
        let written = plan_text(&plan, &timeline, &mut out)
            .and_then(|()| out.write_all(profile_text(&profile, &effective).as_bytes()))
            .and_then(|()| out.flush());
        // The process ends next: leave the million small allocations of a big plan to the
        // operating system rather than free them one by one (a tenth of a second at 20,000
        // faults).
        std::mem::forget((plan, timeline, profile));
        match written {
            Ok(()) => {}
            // `pfi plan FILE | head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                eprintln!("error: cannot write the plan: {e}");
                return ExitCode::from(exit::ENVIRONMENT);
            }
        }
    }
    ExitCode::from(exit::OK)
}
