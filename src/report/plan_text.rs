//! `pfi plan`'s text: the compiled plan and its seeded timeline (streamed: a big timeline is
//! tens of megabytes), then the fault injection profile and the effective thresholds.

use super::percent::value_in;
use crate::model::Profile;
use crate::model::thresholds::EffectiveThreshold;
use crate::model::timeline::push_duration;
use crate::plan::{Plan, ResourceTarget, format_duration, trim};
use std::io::Write;

/// The fault injection profile and the effective thresholds, as text.
pub fn profile_text(profile: &Profile, effective: &[EffectiveThreshold]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nfault injection profile (probability within {} days; rank = edge coverage, then probability × impact):\n",
        trim(profile.horizon_days)
    ));
    out.push_str(&format!(
        "  {:>4}  {:<14} {:<12} {:<10} {:>11}  {:<19} {:>6}  {:>7}  {}\n",
        "rank",
        "fault",
        "kind",
        "resource",
        "probability",
        "rate/yr (90%)",
        "impact",
        "score",
        "why"
    ));
    for s in &profile.scenarios {
        out.push_str(&format!(
            "  {:>4}  {:<14} {:<12} {:<10} {:>10}%  {:<19} {:>6}  {:>7}  {}\n",
            s.rank,
            s.fault,
            s.kind,
            s.resource.as_deref().unwrap_or("-"),
            format!("{:.2}", s.probability * 100.0),
            format!(
                "{:.2} ({:.2}–{:.2})",
                s.rate.mean_per_year(),
                s.rate_interval.0,
                s.rate_interval.1
            ),
            format!("{:.2}", s.impact),
            format!("{:.4}", s.score),
            s.why
        ));
    }
    for edge in &profile.uncovered {
        out.push_str(&format!("  no fault exercises the dependency {edge}\n"));
    }
    if let Some(prior) = &profile.risk_prior {
        out.push_str(&prior.text());
    }
    if !profile.analysis.is_empty() {
        out.push_str(&format!(
            "\ncode analysis (propagation to dependents: {} + {} per unguarded call, at most {}):\n",
            trim(profile.propagation),
            trim(crate::model::profile::UNGUARDED_STEP),
            trim(crate::model::profile::MAX_CARRY)
        ));
        for f in &profile.analysis {
            out.push_str(&format!(
                "  {:<16} {} call{}, {} unguarded, propagation {:.2}  (as {}{})\n",
                f.resource,
                f.calls,
                if f.calls == 1 { "" } else { "s" },
                f.unguarded,
                f.carry,
                f.dependencies.join(", "),
                f.worst
                    .as_deref()
                    .map(|w| format!("; worst at {w}"))
                    .unwrap_or_default()
            ));
        }
    }
    if let Some(samples) = profile.reach_samples {
        out.push_str(&format!(
            "  (the impact of a scenario whose resource reaches another along two paths is \
             sampled: seeded Monte Carlo, {samples} samples)\n"
        ));
    }
    if !profile.resources.is_empty() {
        let method = match profile.total_samples {
            None => "seeded".to_string(),
            Some(samples) => format!("seeded Monte Carlo, {samples} samples"),
        };
        out.push_str(&format!(
            "\nresource failure probability within {} days (propagation {} per edge{}, {method}):\n",
            trim(profile.horizon_days),
            trim(profile.propagation),
            if profile.analysis.iter().any(|f| f.unguarded > 0) {
                ", more from the resources the code analysis names"
            } else {
                ""
            }
        ));
        for r in &profile.resources {
            out.push_str(&format!(
                "  {:<16} type {:<10} {:<9} own {:>6.2}%  with dependencies {:>6.2}%{}\n",
                r.name,
                r.resource_type,
                format!("{:?}", r.criticality).to_lowercase(),
                r.own * 100.0,
                r.total * 100.0,
                if r.single_point_of_failure {
                    "  single point of failure"
                } else {
                    ""
                }
            ));
        }
    }
    if !effective.is_empty() {
        out.push_str("\neffective thresholds (scaled by criticality):\n");
        for e in effective {
            out.push_str(&format!(
                "  {:<36} {:<9} ×{:<5} {} -> {}{}\n",
                e.text,
                format!("{:?}", e.criticality).to_lowercase(),
                trim(e.factor),
                value_in(e.unit, e.written),
                value_in(e.unit, e.effective),
                e.resource
                    .as_ref()
                    .map(|r| format!("  (criticality of {r})"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// Writes the plan and its timeline to `sink`, a chunk at a time.
pub fn plan_text(
    plan: &Plan,
    timeline: &crate::model::Timeline,
    sink: &mut impl Write,
) -> std::io::Result<()> {
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
            ResourceTarget::Service { name, pick } => {
                format!("tasks of Swarm service {name}, pick {pick:?}")
            }
            ResourceTarget::ServiceLabel { selector, pick } => {
                format!("tasks of the Swarm services labelled {selector}, pick {pick:?}")
            }
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
    // No per-line `format!`, and the text goes out in chunks: a timeline can have hundreds of
    // thousands of lines.
    const CHUNK: usize = 1 << 16;
    let mut cell = String::new();
    let pad = |out: &mut String, text: &str, width: usize, right: bool| {
        // Names are ASCII, almost always: their width is their length.
        let chars = if text.is_ascii() {
            text.len()
        } else {
            text.chars().count()
        };
        let fill = width.saturating_sub(chars);
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
        if out.len() >= CHUNK {
            sink.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    sink.write_all(out.as_bytes())
}
