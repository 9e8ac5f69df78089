//! A `SystemMap` → a commented scenario that `pfi check` accepts: container resources
//! selected by Compose's labels, the dependency map, readiness from health checks,
//! criticality guesses, links where the proxy can reach a dependency (and the exact Compose
//! change where it cannot), probes on the entry services, and a starting fault profile ranked
//! by the risk model (`model::profile`).

use super::system_map::{Dependency, Evidence, Role, Service, SystemMap, image_base};
use crate::check::check_text;
use crate::model::{RateTable, profile};
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::Path;

/// The baseline, and the spacing of the faults in rank order.
const BASELINE_S: u64 = 10;
const SPACING_S: u64 = 20;
const LASTING_S: u64 = 8;
/// Link listen ports are allocated from here, skipping ports the template publishes.
const FIRST_LISTEN_PORT: u16 = 21_000;

/// Words the grammar reserves: a service of that name gets a suffix.
const KEYWORDS: &[&str] = &[
    "import",
    "analysis",
    "experiment",
    "resource",
    "process",
    "container",
    "label",
    "image",
    "link",
    "tcp",
    "http",
    "proxy",
    "depends_on",
    "via",
    "fault",
    "on",
    "profile",
    "probe",
    "command",
    "telemetry",
    "threshold",
    "over",
    "during",
    "predict",
    "pattern",
    "when",
    "predicts",
    "mitigate",
    "predicted",
    "remediation",
    "for",
    "and",
    "or",
    "not",
    "abort",
];

/// The drafted scenario, and what the draft could not do.
#[derive(Debug, Clone)]
pub struct ScenarioDraft {
    pub text: String,
    /// Faults in the profile's rank order.
    pub ranked_faults: Vec<String>,
    pub links: usize,
    pub dependencies: usize,
}

struct Resource<'a> {
    ident: String,
    service: &'a Service,
    role: Role,
    criticality: &'static str,
    why: String,
}

struct LinkDraft {
    ident: String,
    from: usize,
    to: usize,
    listen: u16,
    upstream: u16,
    note: String,
}

struct FaultDraft {
    name: String,
    kind: &'static str,
    target: String,
    settings: Vec<String>,
    why: String,
}

/// Drafts the scenario. With `runnable` false (no target exists for the template's
/// platform yet, e.g. Kubernetes), resources, links and faults are written as comments.
pub fn draft(system: &SystemMap, seed: u64, runnable: bool) -> ScenarioDraft {
    let resources = resources(system);
    let index: HashMap<&str, usize> = system
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let (edges, dropped) = acyclic(&system.dependencies, &index);
    let published: HashSet<u16> = system
        .services
        .iter()
        .flat_map(|s| s.published.iter().map(|p| p.published))
        .collect();
    let mut next_port = FIRST_LISTEN_PORT;
    let mut links = Vec::new();
    let mut notes: HashMap<usize, String> = HashMap::new();
    for (e, dep) in edges.iter().enumerate() {
        let (from, to) = (index[dep.from.as_str()], index[dep.to.as_str()]);
        let target = &system.services[to];
        let only = match target.container_ports.as_slice() {
            [only] => Some(*only),
            _ => None,
        };
        let port = dep.port.or(only);
        let reachable = port.and_then(|p| target.published.iter().find(|pp| pp.target == p));
        match reachable {
            Some(pp) if runnable => {
                while published.contains(&next_port) {
                    next_port += 1;
                }
                let listen = next_port;
                next_port += 1;
                let ident = format!("{}_{}", resources[from].ident, resources[to].ident);
                let note = route_note(dep, &target.name, pp.target, listen);
                links.push(LinkDraft {
                    ident,
                    from,
                    to,
                    listen,
                    upstream: pp.published,
                    note,
                });
            }
            _ if !runnable => {
                let note = format!(
                    "not mapped: faults on this edge need a {} target (none yet)",
                    system.source
                );
                notes.insert(e, note);
            }
            _ => {
                let note = match port {
                    Some(p) => format!(
                        "no link: `{}` publishes no port for {p}, so the proxy cannot reach it. To route it, add to {}: services.{}.ports: [\"127.0.0.1:{p}:{p}\"]",
                        target.name, system.origin, target.name
                    ),
                    None => format!(
                        "no link: the port `{}` is reached at is not known (several or no container ports). To route it, name the port: services.{}.ports: [\"127.0.0.1:PORT:PORT\"]",
                        target.name, target.name
                    ),
                };
                notes.insert(e, note);
            }
        }
    }
    let faults = faults(&resources, &links, &edges, &index);
    let order: Vec<usize> = (0..faults.len()).collect();
    let first = render(
        system, seed, runnable, &resources, &edges, &dropped, &links, &notes, &faults, &order, None,
    );
    // Rank with the risk model: check the draft, build the profile, re-render in rank order.
    let (order, ranks) = if runnable {
        rank(&first, &faults).unwrap_or((order, None))
    } else {
        (order, None)
    };
    let text = render(
        system,
        seed,
        runnable,
        &resources,
        &edges,
        &dropped,
        &links,
        &notes,
        &faults,
        &order,
        ranks.as_ref(),
    );
    ScenarioDraft {
        ranked_faults: order.iter().map(|&i| faults[i].name.clone()).collect(),
        links: links.len(),
        dependencies: edges.len(),
        text,
    }
}

fn resources(system: &SystemMap) -> Vec<Resource<'_>> {
    let mut used = HashSet::new();
    system
        .services
        .iter()
        .map(|service| {
            let mut ident = identifier(&service.name);
            while !used.insert(ident.clone()) {
                ident.push('_');
            }
            let role = Role::of(service.image.as_deref(), &service.name);
            let dependents = system
                .dependencies
                .iter()
                .filter(|d| d.to == service.name)
                .map(|d| d.from.as_str())
                .collect::<HashSet<_>>()
                .len();
            let (criticality, why) = criticality(role, dependents, !service.published.is_empty());
            Resource {
                ident,
                service,
                role,
                criticality,
                why,
            }
        })
        .collect()
}

/// The guess: a database or a broker others need is critical or high, a cache medium, an
/// edge proxy high; one level up when two or more services depend on it.
fn criticality(role: Role, dependents: usize, published: bool) -> (&'static str, String) {
    const LEVELS: [&str; 4] = ["low", "medium", "high", "critical"];
    let mut level: usize = match role {
        Role::Database | Role::Queue => 2,
        Role::Proxy => 2,
        Role::Cache => 1,
        Role::App if dependents == 0 && published => 2,
        Role::App => 1,
    };
    if dependents >= 2 {
        level += 1;
    }
    let level = level.min(3);
    let mut why = role.describe().to_string();
    match dependents {
        0 if published => why.push_str(", an entry point (publishes ports, nothing depends on it)"),
        0 => why.push_str(", nothing depends on it"),
        1 => why.push_str(", 1 service depends on it"),
        n => why.push_str(&format!(", {n} services depend on it")),
    }
    (LEVELS[level], why)
}

/// The edges without cycles (the checker rejects cycles): `depends_on` edges first, then
/// those from environment and commands; an edge that would close a cycle is dropped.
fn acyclic(
    deps: &[Dependency],
    index: &HashMap<&str, usize>,
) -> (Vec<Dependency>, Vec<Dependency>) {
    let mut sorted: Vec<&Dependency> = deps.iter().collect();
    sorted.sort_by_key(|d| !matches!(d.evidence, Evidence::DependsOn { .. }));
    let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); index.len()];
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for dep in sorted {
        let (Some(&f), Some(&t)) = (index.get(dep.from.as_str()), index.get(dep.to.as_str()))
        else {
            continue;
        };
        if reaches(&adjacency, t, f) {
            dropped.push(dep.clone());
        } else {
            adjacency[f].push(t);
            kept.push(dep.clone());
        }
    }
    // Back in the template's order.
    kept.sort_by_key(|d| deps.iter().position(|x| x.from == d.from && x.to == d.to));
    (kept, dropped)
}

fn reaches(adjacency: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; adjacency.len()];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if !std::mem::replace(&mut seen[n], true) {
            stack.extend(&adjacency[n]);
        }
    }
    false
}

fn route_note(dep: &Dependency, to: &str, port: u16, listen: u16) -> String {
    let how = match &dep.evidence {
        Evidence::Environment { key, value } => format!(
            "set {key} to `{}` and add extra_hosts: [\"host.docker.internal:host-gateway\"]",
            value
                .replacen(
                    &format!("{to}:{port}"),
                    &format!("host.docker.internal:{listen}"),
                    1
                )
                .replacen(
                    &format!("//{to}/"),
                    &format!("//host.docker.internal:{listen}/"),
                    1
                )
        ),
        _ => format!(
            "point it at host.docker.internal:{listen} instead of {to}:{port} and add extra_hosts: [\"host.docker.internal:host-gateway\"]"
        ),
    };
    format!(
        "`{}` reaches {to}:{port} inside the Compose network, not through this link: faults on it reach clients of 127.0.0.1:{listen} (probes, host processes). To send `{}` through it, change services.{}: {how}, and make the link listen on the network's gateway address instead of 127.0.0.1.",
        dep.from, dep.from, dep.from
    )
}

fn faults(
    resources: &[Resource<'_>],
    links: &[LinkDraft],
    edges: &[Dependency],
    index: &HashMap<&str, usize>,
) -> Vec<FaultDraft> {
    let mut out = Vec::new();
    let depended: HashSet<usize> = edges.iter().map(|e| index[e.to.as_str()]).collect();
    for (i, r) in resources.iter().enumerate() {
        out.push(FaultDraft {
            name: format!("{}_freeze", r.ident),
            kind: "pause",
            target: r.ident.clone(),
            settings: Vec::new(),
            why: format!(
                "`{}` stops answering but keeps its connections",
                r.service.name
            ),
        });
        if depended.contains(&i) {
            out.push(FaultDraft {
                name: format!("{}_down", r.ident),
                kind: "stop",
                target: r.ident.clone(),
                settings: Vec::new(),
                why: format!(
                    "`{}` is down: its dependents' error handling",
                    r.service.name
                ),
            });
        }
    }
    for l in links {
        out.push(FaultDraft {
            name: format!("{}_slow", l.ident),
            kind: "latency",
            target: l.ident.clone(),
            settings: vec!["delay normal(800ms, 200ms)".into()],
            why: format!(
                "`{}` answers `{}` slowly: timeouts and queueing",
                resources[l.to].service.name, resources[l.from].service.name
            ),
        });
        out.push(FaultDraft {
            name: format!("{}_reset", l.ident),
            kind: "reset",
            target: l.ident.clone(),
            settings: Vec::new(),
            why: "connections reset mid-request: retries".into(),
        });
    }
    out
}

/// The profile's order of the draft's faults and a comment per fault.
/// The faults' rank order, and a comment per fault name.
type Ranking = (Vec<usize>, Option<HashMap<String, String>>);

fn rank(text: &str, faults: &[FaultDraft]) -> Option<Ranking> {
    let checked = check_text(Path::new("draft.pfi"), text);
    let plan = checked.plan?;
    let profile = profile(&plan, &RateTable::empty(), plan.experiment.seed);
    let mut order = Vec::new();
    let mut comments = HashMap::new();
    for s in &profile.scenarios {
        if let Some(i) = faults.iter().position(|f| f.name == s.fault) {
            order.push(i);
            comments.insert(
                s.fault.clone(),
                format!(
                    "rank {}: probability {:.3} within {} days × impact {:.2} = score {:.3}; {}",
                    s.rank, s.probability, profile.horizon_days, s.impact, s.score, s.why
                ),
            );
        }
    }
    for i in 0..faults.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    Some((order, Some(comments)))
}

#[allow(clippy::too_many_arguments)]
fn render(
    system: &SystemMap,
    seed: u64,
    runnable: bool,
    resources: &[Resource<'_>],
    edges: &[Dependency],
    dropped: &[Dependency],
    links: &[LinkDraft],
    notes: &HashMap<usize, String>,
    faults: &[FaultDraft],
    order: &[usize],
    ranks: Option<&HashMap<String, String>>,
) -> String {
    let mut o = String::new();
    let c = if runnable { "" } else { "// " };
    let _ = writeln!(
        o,
        "// Drafted by `pfi init --from {}` ({} project `{}`).",
        system.origin, system.source, system.project
    );
    if runnable {
        let _ = writeln!(
            o,
            "// Start the application first (`docker-compose -p {} up -d`), review the guesses",
            system.project
        );
        let _ = writeln!(
            o,
            "// marked below, then `pfi plan` and `pfi run` this file."
        );
    } else {
        let _ = writeln!(
            o,
            "// pfi has no {} target yet: the resources, links and faults below are the map,",
            system.source
        );
        let _ = writeln!(
            o,
            "// written as comments, for the day one exists. What is mapped and what is not is said"
        );
        let _ = writeln!(
            o,
            "// at each service; `pfi init` also reported every construct it did not map."
        );
    }
    let duration = BASELINE_S + SPACING_S * faults.len().max(1) as u64 + 10;
    let _ = writeln!(
        o,
        "\nexperiment \"{} under faults\" {{",
        system.project.replace('"', "'")
    );
    let _ = writeln!(
        o,
        "  duration {duration}s\n  seed {seed}\n  baseline {BASELINE_S}s\n}}"
    );

    let _ = writeln!(o, "\n// ---- resources: one per service");
    for r in resources {
        let s = r.service;
        let _ = writeln!(o);
        let mut facts = Vec::new();
        if let Some(image) = &s.image {
            facts.push(format!("image {image}"));
        }
        if !s.published.is_empty() {
            let ports: Vec<String> = s
                .published
                .iter()
                .map(|p| format!("{}->{}", p.published, p.target))
                .collect();
            facts.push(format!("publishes {}", ports.join(", ")));
        }
        if let Some(cpus) = &s.cpus {
            facts.push(format!("cpus {cpus}"));
        }
        if let Some(mem) = &s.memory {
            facts.push(format!("memory {mem}"));
        }
        if let Some(n) = s.replicas {
            facts.push(format!("{n} replicas"));
        }
        let _ = writeln!(
            o,
            "// {}: {}",
            s.name,
            if facts.is_empty() {
                "no image, ports or limits stated".into()
            } else {
                facts.join("; ")
            }
        );
        if !runnable {
            let aliases: Vec<&str> = s
                .aliases
                .iter()
                .filter(|a| !a.contains('.'))
                .map(String::as_str)
                .collect();
            let names = if aliases.is_empty() {
                "no Service names it".to_string()
            } else {
                format!("reached as Service {}", aliases.join(", "))
            };
            let readiness = match &s.healthcheck {
                Some(h) => match (&h.http, h.tcp) {
                    (Some((port, path)), _) => format!("readiness: HTTP GET {path} on port {port}"),
                    (None, Some(port)) => format!("readiness: TCP port {port}"),
                    _ => format!("readiness: `{}` in the container", h.command.join(" ")),
                },
                None => "no readiness probe".into(),
            };
            let _ = writeln!(
                o,
                "// {} {}: {names}; criticality guess {} ({}); {readiness}",
                system.source, r.ident, r.criticality, r.why
            );
            continue;
        }
        let selector = format!("com.docker.compose.service={}", s.name);
        if runnable {
            let _ = writeln!(
                o,
                "// selected by Compose's service label (project `{}`: stop other projects' `{}` first)",
                system.project, s.name
            );
        }
        let _ = writeln!(
            o,
            "{c}resource {}: container label \"{selector}\" {{",
            r.ident
        );
        let pick = match s.replicas {
            Some(n) if n > 1 => {
                let _ = writeln!(o, "{c}  // {n} replicas: faults act on one at a time");
                "1"
            }
            _ => "all",
        };
        let _ = writeln!(o, "{c}  pick {pick}");
        let _ = writeln!(
            o,
            "{c}  type {}",
            identifier(
                &s.image
                    .as_deref()
                    .map(image_base)
                    .unwrap_or_else(|| s.name.clone())
            )
        );
        let _ = writeln!(
            o,
            "{c}  criticality {}   // a guess: {}",
            r.criticality, r.why
        );
        match readiness(s) {
            Ok(ready) => {
                let _ = writeln!(o, "{c}  {ready}");
            }
            Err(why) => {
                let _ = writeln!(o, "{c}  // no ready check: {why}");
            }
        }
        let _ = writeln!(o, "{c}}}");
        let _ = r.role;
    }

    if !links.is_empty() {
        let _ = writeln!(
            o,
            "\n// ---- links: dependencies the proxy can reach (through a published port)"
        );
    }
    for l in links {
        let _ = writeln!(o, "\n// {}", wrap(&l.note, "// "));
        let _ = writeln!(
            o,
            "{c}link {}: tcp 127.0.0.1:{} -> 127.0.0.1:{}",
            l.ident, l.listen, l.upstream
        );
    }

    let _ = writeln!(o, "\n// ---- the dependency map");
    for (e, dep) in edges.iter().enumerate() {
        let from = &resources
            .iter()
            .find(|r| r.service.name == dep.from)
            .map(|r| r.ident.clone())
            .unwrap_or_default();
        let to = &resources
            .iter()
            .find(|r| r.service.name == dep.to)
            .map(|r| r.ident.clone())
            .unwrap_or_default();
        let via = links
            .iter()
            .find(|l| resources[l.from].ident == *from && resources[l.to].ident == *to);
        let _ = writeln!(o, "// from {}", dep.evidence.describe());
        if let Some(note) = notes.get(&e) {
            let _ = writeln!(o, "// {}", wrap(note, "// "));
        }
        match via {
            Some(l) => {
                let _ = writeln!(o, "{c}{from} depends_on {to} via {}", l.ident);
            }
            None => {
                let _ = writeln!(o, "{c}{from} depends_on {to}");
            }
        }
    }
    for dep in dropped {
        let _ = writeln!(
            o,
            "// left out, it would close a cycle: {} -> {} (from {})",
            dep.from,
            dep.to,
            dep.evidence.describe()
        );
    }
    if edges.is_empty() {
        let _ = writeln!(
            o,
            "// no dependency found (no depends_on, links, or service names in environment or commands)"
        );
    }

    if !runnable {
        let _ = writeln!(
            o,
            "\n// ---- faults that would test the map, once a {} target exists:",
            system.source
        );
        for f in faults {
            let _ = writeln!(
                o,
                "// fault {}: {} on {}   // {}",
                f.name, f.kind, f.target, f.why
            );
        }
        return o;
    }
    let _ = writeln!(o, "\n// ---- probes: the entry services' published ports");
    let mut probes = Vec::new();
    for r in resources {
        let s = r.service;
        let depended = edges.iter().any(|d| d.to == s.name);
        let Some(port) = s.published.first() else {
            continue;
        };
        if depended
            && resources.iter().any(|x| {
                !x.service.published.is_empty() && !edges.iter().any(|d| d.to == x.service.name)
            })
        {
            continue;
        }
        let name = format!("{}_probe", r.ident);
        let http = s
            .healthcheck
            .as_ref()
            .and_then(|h| h.http.clone())
            .filter(|(p, _)| s.published.iter().any(|pp| pp.target == *p));
        match http {
            Some((p, path)) => {
                let host = s
                    .published
                    .iter()
                    .find(|pp| pp.target == p)
                    .map_or(port.published, |pp| pp.published);
                let _ = writeln!(
                    o,
                    "{c}probe {name}: http get \"http://127.0.0.1:{host}{path}\" every 500ms timeout 2s"
                );
            }
            None if [80, 3000, 5000, 8000, 8080, 8081, 9000].contains(&port.target)
                && r.role != Role::Database =>
            {
                let _ = writeln!(
                    o,
                    "{c}probe {name}: http get \"http://127.0.0.1:{}/\" every 500ms timeout 2s",
                    port.published
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "{c}probe {name}: tcp 127.0.0.1:{} every 500ms timeout 2s",
                    port.published
                );
            }
        }
        probes.push(name);
    }
    if probes.is_empty() {
        let _ = writeln!(
            o,
            "// none: no service publishes a port on the host; publish the entry service's port to probe it"
        );
    }
    for p in &probes {
        let _ = writeln!(o, "{c}threshold {p}.availability > 95%");
    }

    let _ = writeln!(
        o,
        "\n// ---- the starting fault profile, in the risk model's rank order (`pfi plan` shows it;"
    );
    let _ = writeln!(
        o,
        "// `pfi run --profile top:N` keeps the first N). Rates: no history yet, the prior"
    );
    let _ = writeln!(
        o,
        "// for every type; add `history \"incidents.csv\"` to the experiment to use yours."
    );
    for (k, &i) in order.iter().enumerate() {
        let f = &faults[i];
        let at = BASELINE_S + SPACING_S * k as u64;
        let _ = writeln!(o);
        let _ = writeln!(o, "// {}", f.why);
        if let Some(comment) = ranks.and_then(|r| r.get(&f.name)) {
            let _ = writeln!(o, "// {}", wrap(comment, "// "));
        }
        let _ = writeln!(o, "{c}fault {}: {} on {} {{", f.name, f.kind, f.target);
        for s in &f.settings {
            let _ = writeln!(o, "{c}  {s}");
        }
        let _ = writeln!(o, "{c}  at {at}s\n{c}  lasting {LASTING_S}s\n{c}}}");
    }
    o
}

/// `ready http/tcp` from the health check and the published ports.
fn readiness(s: &Service) -> Result<String, String> {
    let within = s
        .healthcheck
        .as_ref()
        .map_or(60, |h| (h.patience_ms / 1000).clamp(10, 300));
    if let Some((port, path)) = s.healthcheck.as_ref().and_then(|h| h.http.clone())
        && let Some(pp) = s.published.iter().find(|p| p.target == port)
    {
        return Ok(format!(
            "ready http \"http://127.0.0.1:{}{path}\" within {within}s   // the health check's URL, through the published port",
            pp.published
        ));
    }
    if let Some(pp) = s.published.first() {
        let from = match &s.healthcheck {
            Some(h) if !h.command.is_empty() => format!(
                "the health check `{}` runs inside the container; pfi checks from the host",
                h.command.join(" ")
            ),
            _ => "no health check; the published port accepting connections".into(),
        };
        return Ok(format!(
            "ready tcp 127.0.0.1:{} within {within}s   // {from}",
            pp.published
        ));
    }
    Err(match &s.healthcheck {
        Some(h) if !h.command.is_empty() => format!(
            "the health check `{}` runs inside the container and no port is published",
            h.command.join(" ")
        ),
        _ => "no health check and no published port".into(),
    })
}

/// A pfi identifier from a service name.
pub fn identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    if KEYWORDS.contains(&id.as_str()) {
        id.push_str("_svc");
    }
    id
}

/// Wraps a long comment at about 96 columns.
fn wrap(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        if line > 0 && line + word.len() > 92 {
            out.push('\n');
            out.push_str(prefix);
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}
