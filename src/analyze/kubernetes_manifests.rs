//! Kubernetes manifests (a folder or a file, several documents each) → a `SystemMap`:
//! Deployments, StatefulSets and DaemonSets are the services; Services name them (their
//! names and DNS forms become aliases); containers' ports, environment, probes and limits
//! are read. Every other kind and every key not read is reported (PFI0090) at its line.
//! pfi has no Kubernetes target yet: the draft writes the map as comments.

use super::system_map::{Healthcheck, Service, SystemMap, merge_edges};
use super::yaml_tree::{YamlTree, parse_documents};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, SourceMap};
use std::path::{Path, PathBuf};

const WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];
const POD_KEYS: &[&str] = &["containers"];
const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "ports",
    "env",
    "resources",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
    "command",
    "args",
];

/// Reads every `.yaml`/`.yml` under `path` (or the file itself). `None` when no document
/// could be read.
pub fn read_kubernetes(
    path: &Path,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Option<SystemMap> {
    let files = manifest_files(path);
    if files.is_empty() {
        diagnostics.push(Diagnostic::error(
            Code::Unreadable,
            format!("no .yaml or .yml manifest in `{}`", path.display()),
        ));
        return None;
    }
    let mut docs = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let id = sources.add(file, text);
                match parse_documents(sources, id) {
                    Ok(d) => docs.extend(d),
                    Err(d) => diagnostics.push(d),
                }
            }
            Err(e) => diagnostics.push(Diagnostic::error(
                Code::Unreadable,
                format!("cannot read `{}`: {e}", file.display()),
            )),
        }
    }
    if docs.is_empty() {
        return None;
    }
    let mut system = SystemMap {
        source: "Kubernetes",
        origin: path.display().to_string(),
        ..SystemMap::default()
    };
    let mut services_objects = Vec::new();
    let mut template_labels: Vec<Vec<(String, String)>> = Vec::new();
    for doc in &docs {
        if !doc.is_mapping() {
            continue;
        }
        let kind = doc.get("kind").and_then(YamlTree::text).unwrap_or("");
        let namespace = doc
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(YamlTree::text)
            .unwrap_or("default");
        if system.project.is_empty() {
            system.project = namespace.to_string();
        }
        match kind {
            k if WORKLOADS.contains(&k) => {
                let (service, labels) = workload(doc, namespace, diagnostics);
                system.services.push(service);
                template_labels.push(labels);
            }
            "Service" => services_objects.push((doc, namespace)),
            other => {
                let at = doc.get("kind").map(|k| k.span).unwrap_or(doc.span);
                diagnostics.push(
                    Diagnostic::warning(
                        Code::Unmapped,
                        format!("a `{other}` is not mapped (only Deployments, StatefulSets, DaemonSets and Services are)"),
                    )
                    .at(at, "not mapped"),
                );
            }
        }
    }
    // Services name workloads: their names (and DNS forms) reach the workload.
    for (doc, namespace) in services_objects {
        let Some(name) = doc
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(YamlTree::text)
        else {
            continue;
        };
        let selector: Vec<(String, String)> = doc
            .get("spec")
            .and_then(|s| s.get("selector"))
            .map(|s| {
                s.entries()
                    .iter()
                    .filter_map(|(k, v)| Some((k.text()?.to_string(), v.text()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let target = template_labels
            .iter()
            .position(|labels| !selector.is_empty() && selector.iter().all(|l| labels.contains(l)));
        match target {
            Some(i) => {
                let aliases = &mut system.services[i].aliases;
                for alias in [
                    name.to_string(),
                    format!("{name}.{namespace}"),
                    format!("{name}.{namespace}.svc"),
                    format!("{name}.{namespace}.svc.cluster.local"),
                ] {
                    if !aliases.contains(&alias) {
                        aliases.push(alias);
                    }
                }
            }
            None => diagnostics.push(
                Diagnostic::warning(
                    Code::UnknownName,
                    format!(
                        "Service `{name}` selects no Deployment, StatefulSet or DaemonSet read here"
                    ),
                )
                .at(doc.span, "its selector matches nothing"),
            ),
        }
    }
    system.dependencies = merge_edges(system.address_dependencies());
    Some(system)
}

fn manifest_files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn workload(
    doc: &YamlTree,
    namespace: &str,
    diagnostics: &mut Diagnostics,
) -> (Service, Vec<(String, String)>) {
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(YamlTree::text)
        .unwrap_or("unnamed");
    let spec = doc.get("spec");
    let mut service = Service {
        name: name.to_string(),
        span: doc.get("metadata").map_or(doc.span, |m| m.span),
        replicas: spec
            .and_then(|s| s.get("replicas"))
            .and_then(|r| r.text()?.parse().ok()),
        ..Service::default()
    };
    let _ = namespace;
    let template = spec.and_then(|s| s.get("template"));
    let labels = template
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .map(|l| {
            l.entries()
                .iter()
                .filter_map(|(k, v)| Some((k.text()?.to_string(), v.text()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let Some(pod) = template.and_then(|t| t.get("spec")) else {
        return (service, labels);
    };
    for (key, _) in pod.entries() {
        if let Some(k) = key.text()
            && !POD_KEYS.contains(&k)
        {
            unmapped(diagnostics, key, &format!("the pod's `{k}`"));
        }
    }
    for container in pod
        .get("containers")
        .map(YamlTree::items)
        .unwrap_or_default()
    {
        for (key, value) in container.entries() {
            match key.text() {
                Some("image") if service.image.is_none() => {
                    service.image = value.text().map(str::to_string)
                }
                Some("ports") => {
                    for p in value.items() {
                        if let Some(port) =
                            p.get("containerPort").and_then(|c| c.text()?.parse().ok())
                        {
                            service.container_ports.push(port);
                        }
                    }
                }
                Some("env") => {
                    for e in value.items() {
                        let Some(k) = e.get("name").and_then(YamlTree::text) else {
                            continue;
                        };
                        match e.get("value").and_then(YamlTree::text) {
                            Some(v) => service.environment.push((k.to_string(), v.to_string())),
                            None => unmapped(diagnostics, e, &format!("env `{k}` from valueFrom")),
                        }
                    }
                }
                Some("resources") => {
                    let limits = value.get("limits");
                    service.cpus = limits
                        .and_then(|l| l.get("cpu"))
                        .and_then(|c| c.text().map(str::to_string));
                    service.memory = limits
                        .and_then(|l| l.get("memory"))
                        .and_then(|c| c.text().map(str::to_string));
                }
                Some("readinessProbe") => service.healthcheck = Some(probe(value)),
                Some("livenessProbe" | "startupProbe") if service.healthcheck.is_none() => {
                    service.healthcheck = Some(probe(value))
                }
                Some("livenessProbe" | "startupProbe") => {}
                Some("command" | "args") => service.command.extend(value.words()),
                Some(k) if CONTAINER_KEYS.contains(&k) => {}
                Some(k) => unmapped(diagnostics, key, &format!("the container's `{k}`")),
                None => {}
            }
        }
    }
    (service, labels)
}

fn probe(p: &YamlTree) -> Healthcheck {
    let number = |key: &str, default: u64| {
        p.get(key)
            .and_then(|v| v.text()?.parse().ok())
            .unwrap_or(default)
    };
    let port = |node: Option<&YamlTree>| {
        node.and_then(|n| n.get("port"))
            .and_then(|v| v.text()?.parse().ok())
    };
    Healthcheck {
        command: p
            .get("exec")
            .and_then(|e| e.get("command"))
            .map(YamlTree::words)
            .unwrap_or_default(),
        http: port(p.get("httpGet")).map(|port| {
            let path = p
                .get("httpGet")
                .and_then(|h| h.get("path"))
                .and_then(YamlTree::text)
                .unwrap_or("/");
            (port, path.to_string())
        }),
        tcp: port(p.get("tcpSocket")),
        patience_ms: 1000
            * (number("initialDelaySeconds", 0)
                + number("periodSeconds", 10) * number("failureThreshold", 3)),
    }
}

fn unmapped(diagnostics: &mut Diagnostics, node: &YamlTree, what: &str) {
    diagnostics.push(
        Diagnostic::warning(Code::Unmapped, format!("{what} is not mapped"))
            .at(node.span, "not mapped"),
    );
}
