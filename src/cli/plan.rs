use super::exit;
use super::report::{Format, print_diagnostics};
use crate::check::check_file;
use crate::model::timeline;
use crate::model::timeline::push_duration;
use crate::plan::{Plan, ResourceTarget, format_duration};
use clap::Args;
use serde_json::json;
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
}

pub fn run(args: PlanArgs) -> ExitCode {
    let checked = check_file(&args.file);
    print_diagnostics(&checked, Format::Human);
    let Some(plan) = checked.plan else {
        return ExitCode::from(exit::BAD_INPUT);
    };
    let seed = args.seed.unwrap_or(plan.experiment.seed);
    let timeline = timeline(&plan, seed);
    if args.json {
        let value = json!({ "plan": plan, "timeline": timeline });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{}", render(&plan, &timeline));
    }
    ExitCode::from(exit::OK)
}

fn render(plan: &Plan, timeline: &crate::model::Timeline) -> String {
    let mut out = String::new();
    let e = &plan.experiment;
    out.push_str(&format!(
        "experiment \"{}\": {} with seed {}\n",
        e.name,
        format_duration(e.duration_ms),
        timeline.seed
    ));
    out.push_str(&format!(
        "\nresources (start order): {}\n",
        plan.resources.len()
    ));
    for r in &plan.resources {
        let what = match &r.target {
            ResourceTarget::Process { argv, .. } => format!("process {}", argv.join(" ")),
            ResourceTarget::Container { name } => format!("container {name}"),
            ResourceTarget::ContainerLabel { selector, pick } => {
                format!("containers labelled {selector}, pick {pick:?}")
            }
            ResourceTarget::Image { image, .. } => format!("container from image {image}"),
        };
        let standby = if r.standby { ", standby" } else { "" };
        out.push_str(&format!(
            "  {:<16} {what} [{:?}{standby}]\n",
            r.name, r.criticality
        ));
    }
    if !plan.links.is_empty() {
        out.push_str(&format!("\nlinks: {}\n", plan.links.len()));
        for l in &plan.links {
            let kind = if l.http { "http" } else { "tcp" };
            out.push_str(&format!(
                "  {:<16} {kind} {} -> {}\n",
                l.name, l.listen, l.upstream
            ));
        }
    }
    if !plan.dependencies.is_empty() {
        out.push_str("\ndependencies:\n");
        for d in &plan.dependencies {
            let via = d
                .via
                .as_ref()
                .map(|v| format!(" via {v}"))
                .unwrap_or_default();
            out.push_str(&format!("  {} -> {}{via}\n", d.from, d.to));
        }
    }
    out.push_str(&format!(
        "\nprobes: {}   thresholds: {}   mitigation rules: {}\n",
        plan.probes.len(),
        plan.thresholds.len(),
        plan.mitigations.len()
    ));
    for t in &plan.thresholds {
        let mut line = format!("  threshold {}", t.text);
        if let Some(w) = t.window_ms {
            line.push_str(&format!(" over {}", format_duration(w)));
        }
        if let Some(d) = &t.during {
            line.push_str(&format!(" during {d}"));
        }
        if t.abort {
            line.push_str(" abort");
        }
        out.push_str(&line);
        out.push('\n');
    }
    let fired = timeline.activations.iter().filter(|a| a.fired).count();
    out.push_str(&format!(
        "\nfault timeline: {} arrivals, {} fire\n",
        timeline.activations.len(),
        fired
    ));
    out.push_str(&format!(
        "  {:>9}  {:>9}  {:<14} {:<12} {:<12} {}\n",
        "start", "lasting", "fault", "kind", "target", "strength / why"
    ));
    // One buffer, no per-line `format!`: a timeline can have hundreds of thousands of lines.
    out.reserve(timeline.activations.len() * 160);
    let mut cell = String::new();
    let pad = |out: &mut String, text: &str, width: usize, right: bool| {
        let fill = width.saturating_sub(text.chars().count());
        if right {
            out.extend(std::iter::repeat_n(' ', fill));
            out.push_str(text);
        } else {
            out.push_str(text);
            out.extend(std::iter::repeat_n(' ', fill));
        }
    };
    for a in &timeline.activations {
        out.push_str(if a.fired { "  " } else { "- " });
        cell.clear();
        push_duration(&mut cell, a.start_ms);
        pad(&mut out, &cell, 9, true);
        out.push_str("  ");
        cell.clear();
        push_duration(&mut cell, a.duration_ms);
        pad(&mut out, &cell, 9, true);
        out.push_str("  ");
        pad(&mut out, &a.fault, 14, false);
        out.push(' ');
        pad(&mut out, &a.kind, 12, false);
        out.push(' ');
        pad(&mut out, &a.target, 12, false);
        out.push(' ');
        out.push_str(if a.strength.is_empty() {
            "-"
        } else {
            &a.strength
        });
        out.push_str("\n                        ");
        out.push_str(&a.why);
        out.push('\n');
    }
    out
}
