//! A Compose file (the Compose specification) → a `SystemMap`. Every key is either mapped,
//! or reported as not mapped (PFI0090) or unknown (PFI0091) at its line and column.

use super::system_map::{
    Dependency, Evidence, Healthcheck, PublishedPort, Service, SystemMap, merge_edges, scheme_port,
};
use super::yaml_tree::{YamlTree, YamlValue, parse_documents};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId, SourceMap};
use std::path::Path;

const TOP_LEVEL: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models",
];

/// Service keys pfi turns into the scenario.
const MAPPED: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "depends_on",
    "ports",
    "expose",
    "healthcheck",
    "deploy",
    "environment",
    "container_name",
    "hostname",
    "networks",
    "links",
    "cpus",
    "mem_limit",
    "scale",
    "labels",
];

/// Service keys of the Compose specification that the scenario does not use.
const NOT_MAPPED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "configs",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "driver_opts",
    "env_file",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "logging",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "network_mode",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// Reads `file` (already in `sources`). `None` when nothing could be read (malformed YAML,
/// no `services`).
pub fn read_compose(
    sources: &SourceMap,
    file: FileId,
    diagnostics: &mut Diagnostics,
) -> Option<SystemMap> {
    let docs = match parse_documents(sources, file) {
        Ok(docs) => docs,
        Err(d) => {
            diagnostics.push(d);
            return None;
        }
    };
    let Some(root) = docs.first().filter(|d| d.is_mapping()) else {
        let at = docs.first().map(|d| d.span).unwrap_or_default();
        diagnostics.push(
            Diagnostic::error(
                Code::InvalidValue,
                "a Compose file is a mapping with `services`",
            )
            .at(
                crate::diagnostic::Span { file, ..at },
                "expected `services:`",
            ),
        );
        return None;
    };
    for extra in docs.iter().skip(1) {
        diagnostics.push(
            Diagnostic::warning(Code::Unmapped, "a second YAML document is not read")
                .at(extra.span, "not mapped")
                .help("Compose reads one document per file; merge it into the first"),
        );
    }
    let path = sources.path(file);
    let mut reader = ComposeReader {
        diagnostics,
        system: SystemMap {
            project: project_name(root, path),
            source: "Compose",
            origin: path.display().to_string(),
            ..SystemMap::default()
        },
    };
    reader.top_level(root);
    let Some(services) = root.get("services").filter(|s| s.is_mapping()) else {
        reader.diagnostics.push(
            Diagnostic::error(Code::MissingSetting, "the Compose file has no `services`")
                .at(root.span, "no services here")
                .help("declare `services:` with at least one service"),
        );
        return None;
    };
    for (key, value) in services.entries() {
        reader.service(key, value);
    }
    reader.dependencies(services);
    Some(reader.system)
}

/// Compose's project name: `name:`, or the folder's name lowercased without other characters.
fn project_name(root: &YamlTree, path: &Path) -> String {
    if let Some(name) = root.get("name").and_then(YamlTree::text) {
        return name.to_string();
    }
    let folder = path
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name: String = folder
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if name.is_empty() {
        "default".into()
    } else {
        name
    }
}

struct ComposeReader<'d> {
    diagnostics: &'d mut Diagnostics,
    system: SystemMap,
}

impl ComposeReader<'_> {
    fn top_level(&mut self, root: &YamlTree) {
        for (key, value) in root.entries() {
            let Some(k) = key.text() else {
                self.unsupported(key, "a non-scalar key");
                continue;
            };
            match k {
                "services" | "name" | "version" => {}
                "networks" | "volumes" | "configs" | "secrets" | "include" | "models" => {
                    self.not_mapped(key, &format!("top-level `{k}`"), value)
                }
                k if k.starts_with("x-") => self.not_mapped(key, "an extension field", value),
                _ => self.unknown(key, k, TOP_LEVEL),
            }
        }
    }

    fn service(&mut self, key: &YamlTree, body: &YamlTree) {
        let Some(name) = key.text() else {
            self.unsupported(key, "a non-scalar service name");
            return;
        };
        if !body.is_mapping() {
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::InvalidValue,
                    format!("service `{name}` is not a mapping"),
                )
                .at(body.span, "expected `image:`, `ports:`, ...")
                .help("the service is left out of the scenario"),
            );
            return;
        }
        let mut service = Service {
            name: name.to_string(),
            span: key.span,
            ..Service::default()
        };
        for (k, v) in body.entries() {
            let Some(field) = k.text() else {
                self.unsupported(k, "a non-scalar key");
                continue;
            };
            if let YamlValue::Unsupported(what) = v.value {
                self.unsupported(v, what);
                continue;
            }
            match field {
                "<<" => self.unsupported(k, "a YAML merge key (`<<: *anchor`)"),
                "image" => service.image = v.text().map(str::to_string),
                "command" | "entrypoint" => service.command.extend(v.words()),
                "ports" => self.ports(v, &mut service),
                "expose" => {
                    for item in v.items() {
                        match item.text().and_then(|t| t.split('/').next()?.parse().ok()) {
                            Some(p) => service.container_ports.push(p),
                            None => self.unsupported(item, "an exposed port range"),
                        }
                    }
                }
                "healthcheck" => service.healthcheck = self.healthcheck(v),
                "deploy" => self.deploy(v, &mut service),
                "environment" => service.environment = self.environment(v),
                "container_name" | "hostname" => {
                    service.aliases.extend(v.text().map(str::to_string))
                }
                "networks" => self.networks(v, &mut service),
                "cpus" => service.cpus = v.text().map(str::to_string),
                "mem_limit" => service.memory = v.text().map(str::to_string),
                "scale" => service.replicas = v.text().and_then(|t| t.parse().ok()),
                "build" | "depends_on" | "links" | "labels" => {}
                f if f.starts_with("x-") => self.not_mapped(k, "an extension field", v),
                f if NOT_MAPPED.contains(&f) => {
                    self.not_mapped(k, &format!("`{f}` of service `{name}`"), v)
                }
                f => {
                    let known: Vec<&str> = MAPPED.iter().chain(NOT_MAPPED).copied().collect();
                    self.unknown(k, f, &known)
                }
            }
        }
        self.system.services.push(service);
    }

    fn ports(&mut self, ports: &YamlTree, service: &mut Service) {
        for item in ports.items() {
            if item.is_mapping() {
                let target = item.get("target").and_then(|t| t.text()?.parse().ok());
                let published = item.get("published").and_then(|t| t.text()?.parse().ok());
                let udp = item.get("protocol").and_then(YamlTree::text) == Some("udp");
                match (target, published) {
                    (Some(target), _) if udp => {
                        service.container_ports.push(target);
                        self.unsupported(item, "a UDP port (links are TCP)");
                    }
                    (Some(target), Some(published)) => {
                        service.container_ports.push(target);
                        service.published.push(PublishedPort {
                            host_ip: item
                                .get("host_ip")
                                .and_then(|h| h.text().map(str::to_string)),
                            published,
                            target,
                        });
                    }
                    (Some(target), None) => service.container_ports.push(target),
                    _ => self.unsupported(item, "a port without `target`"),
                }
                continue;
            }
            let Some(text) = item.text() else {
                self.unsupported(item, "a port that is not text");
                continue;
            };
            match parse_port(text) {
                Some(PortSpec {
                    host_ip,
                    published,
                    target,
                    udp: false,
                }) => {
                    service.container_ports.push(target);
                    if let Some(published) = published {
                        service.published.push(PublishedPort {
                            host_ip,
                            published,
                            target,
                        });
                    }
                }
                Some(PortSpec { target, .. }) => {
                    service.container_ports.push(target);
                    self.unsupported(item, "a UDP port (links are TCP)");
                }
                None => self.unsupported(item, "a port range or an unreadable port"),
            }
        }
    }

    fn healthcheck(&mut self, v: &YamlTree) -> Option<Healthcheck> {
        if v.get("disable").and_then(YamlTree::text) == Some("true") {
            return None;
        }
        let mut command = v.get("test").map(YamlTree::words).unwrap_or_default();
        if matches!(
            command.first().map(String::as_str),
            Some("CMD" | "CMD-SHELL")
        ) {
            command.remove(0);
        }
        if command.first().map(String::as_str) == Some("NONE") {
            return None;
        }
        let ms = |key: &str, default: u64| {
            v.get(key)
                .and_then(YamlTree::text)
                .and_then(parse_duration_ms)
                .unwrap_or(default)
        };
        let retries: u64 = v
            .get("retries")
            .and_then(|r| r.text()?.parse().ok())
            .unwrap_or(3);
        let patience =
            ms("start_period", 0) + (ms("interval", 30_000) + ms("timeout", 30_000)) * retries;
        for (key, value) in v.entries() {
            if let Some(k) = key.text()
                && !matches!(
                    k,
                    "test"
                        | "interval"
                        | "timeout"
                        | "retries"
                        | "start_period"
                        | "disable"
                        | "start_interval"
                )
            {
                self.unknown(
                    key,
                    k,
                    &[
                        "test",
                        "interval",
                        "timeout",
                        "retries",
                        "start_period",
                        "start_interval",
                        "disable",
                    ],
                );
                let _ = value;
            }
        }
        Some(Healthcheck {
            http: command.iter().find_map(|w| url_port_path(w)),
            command,
            tcp: None,
            patience_ms: patience,
        })
    }

    fn deploy(&mut self, v: &YamlTree, service: &mut Service) {
        for (key, value) in v.entries() {
            match key.text() {
                Some("replicas") => service.replicas = value.text().and_then(|t| t.parse().ok()),
                Some("resources") => {
                    for (k, limits) in value.entries() {
                        match k.text() {
                            Some("limits") => {
                                for (lk, lv) in limits.entries() {
                                    match lk.text() {
                                        Some("cpus") => {
                                            service.cpus = lv.text().map(str::to_string)
                                        }
                                        Some("memory") => {
                                            service.memory = lv.text().map(str::to_string)
                                        }
                                        Some(other) => self.not_mapped(
                                            lk,
                                            &format!("deploy.resources.limits.{other}"),
                                            lv,
                                        ),
                                        None => self.unsupported(lk, "a non-scalar key"),
                                    }
                                }
                            }
                            Some(other) => {
                                self.not_mapped(k, &format!("deploy.resources.{other}"), limits)
                            }
                            None => self.unsupported(k, "a non-scalar key"),
                        }
                    }
                }
                Some(other) => self.not_mapped(key, &format!("deploy.{other}"), value),
                None => self.unsupported(key, "a non-scalar key"),
            }
        }
    }

    fn environment(&mut self, v: &YamlTree) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match &v.value {
            YamlValue::Mapping(entries) => {
                for (k, val) in entries {
                    if let Some(key) = k.text() {
                        out.push((key.to_string(), val.text().unwrap_or("").to_string()));
                    }
                }
            }
            YamlValue::Sequence(items) => {
                for item in items {
                    match item.text() {
                        Some(t) => {
                            let (k, val) = t.split_once('=').unwrap_or((t, ""));
                            out.push((k.to_string(), val.to_string()));
                        }
                        None => self.unsupported(item, "an environment entry that is not text"),
                    }
                }
            }
            _ => self.unsupported(v, "an environment that is neither a list nor a mapping"),
        }
        for (_, value) in &out {
            if value.contains("${") {
                self.diagnostics.push(
                    Diagnostic::warning(
                        Code::Unmapped,
                        format!("`{value}` is interpolated by Compose from the shell or .env"),
                    )
                    .at(v.span, "read as written, not interpolated")
                    .help("a service named only through a variable is not found as a dependency"),
                );
            }
        }
        out
    }

    fn networks(&mut self, v: &YamlTree, service: &mut Service) {
        for (_, net) in v.entries() {
            for alias in net.get("aliases").map(YamlTree::items).unwrap_or_default() {
                service.aliases.extend(alias.text().map(str::to_string));
            }
        }
    }

    /// `depends_on` (both forms), `links`, and the other services named in environment
    /// values and command lines.
    fn dependencies(&mut self, services: &YamlTree) {
        let names: Vec<(String, Vec<String>)> = self
            .system
            .services
            .iter()
            .map(|s| {
                let mut hosts = vec![s.name.clone()];
                hosts.extend(s.aliases.iter().cloned());
                (s.name.clone(), hosts)
            })
            .collect();
        let known = |n: &str| names.iter().any(|(name, _)| name == n);
        let mut found: Vec<Dependency> = Vec::new();
        for (key, body) in services.entries() {
            let Some(from) = key.text() else { continue };
            if !known(from) {
                continue;
            }
            if let Some(dep) = body.get("depends_on") {
                let mut add = |node: &YamlTree, to: &str, condition: String| {
                    if known(to) {
                        found.push(Dependency {
                            from: from.into(),
                            to: to.into(),
                            port: None,
                            evidence: Evidence::DependsOn { condition },
                            span: node.span,
                        });
                    } else {
                        self.diagnostics.push(
                            Diagnostic::warning(
                                Code::UnknownName,
                                format!("`{from}` depends on `{to}`, which is not a service"),
                            )
                            .at(node.span, "no such service"),
                        );
                    }
                };
                match &dep.value {
                    YamlValue::Sequence(items) => {
                        for item in items {
                            if let Some(to) = item.text() {
                                add(item, to, "service_started".into());
                            }
                        }
                    }
                    YamlValue::Mapping(entries) => {
                        for (k, cond) in entries {
                            if let Some(to) = k.text() {
                                let condition = cond
                                    .get("condition")
                                    .and_then(YamlTree::text)
                                    .unwrap_or("service_started");
                                add(k, to, condition.to_string());
                            }
                        }
                    }
                    _ => self.unsupported(dep, "a depends_on that is neither a list nor a mapping"),
                }
            }
            for link in body.get("links").map(YamlTree::items).unwrap_or_default() {
                if let Some(text) = link.text() {
                    let to = text.split(':').next().unwrap_or(text);
                    if known(to) {
                        found.push(Dependency {
                            from: from.into(),
                            to: to.into(),
                            port: None,
                            evidence: Evidence::DependsOn {
                                condition: "links".into(),
                            },
                            span: link.span,
                        });
                    }
                }
            }
        }
        found.extend(self.system.address_dependencies());
        let edges = merge_edges(found);
        self.system.dependencies = edges;
    }

    fn not_mapped(&mut self, key: &YamlTree, what: &str, _value: &YamlTree) {
        self.diagnostics.push(
            Diagnostic::warning(
                Code::Unmapped,
                format!("{what} is not mapped into the scenario"),
            )
            .at(key.span, "not mapped"),
        );
    }

    fn unsupported(&mut self, node: &YamlTree, what: &str) {
        self.diagnostics.push(
            Diagnostic::warning(
                Code::Unmapped,
                format!("{what} is not mapped into the scenario"),
            )
            .at(node.span, "not mapped")
            .help("write it out plainly if the experiment needs it"),
        );
    }

    fn unknown(&mut self, key: &YamlTree, name: &str, known: &[&str]) {
        let mut d = Diagnostic::warning(
            Code::UnknownKey,
            format!("`{name}` is not a Compose key; it is ignored"),
        )
        .at(key.span, "unknown key");
        if let Some(near) = nearest(name, known) {
            d = d.help(format!("did you mean `{near}`?"));
        }
        self.diagnostics.push(d);
    }
}

struct PortSpec {
    host_ip: Option<String>,
    published: Option<u16>,
    target: u16,
    udp: bool,
}

/// `8080`, `8080:80`, `127.0.0.1:8080:80`, `8080:80/tcp`; `None` for ranges.
fn parse_port(text: &str) -> Option<PortSpec> {
    let (body, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    let parts: Vec<&str> = body.rsplitn(3, ':').collect();
    let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0);
    let (host_ip, published, target) = match parts.as_slice() {
        [target] => (None, None, port(target)?),
        [target, published] => (None, Some(port(published)?), port(target)?),
        [target, published, ip] => (
            Some(ip.trim_matches(['[', ']']).to_string()),
            if published.is_empty() {
                None
            } else {
                Some(port(published)?)
            },
            port(target)?,
        ),
        _ => return None,
    };
    Some(PortSpec {
        host_ip,
        published,
        target,
        udp: protocol == "udp",
    })
}

/// A URL's port (by default its scheme's) and path, from a word of a health check command.
pub fn url_port_path(word: &str) -> Option<(u16, String)> {
    let start = word.find("http://").or_else(|| word.find("https://"))?;
    let url = &word[start..];
    let (scheme, rest) = url.split_once("://")?;
    let rest = rest.trim_end_matches(['"', '\'', ';']);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let port = match authority.rsplit_once(':') {
        Some((_, p)) => p.parse().ok()?,
        None => scheme_port(scheme)?,
    };
    Some((port, path))
}

/// Compose durations: `10s`, `1m30s`, `500ms`, `1h`, `2us`.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        total += n * match unit.as_str() {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" => 0.001,
            _ => return None,
        };
        any = true;
    }
    if !number.is_empty() {
        return None;
    }
    any.then_some(total as u64)
}

/// The known word nearest to `word` (edit distance at most 2).
fn nearest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Option<SystemMap>, Vec<Diagnostic>, SourceMap) {
        let mut sources = SourceMap::new();
        let f = sources.add("compose.yml", text);
        let mut diagnostics = Diagnostics::new();
        let system = read_compose(&sources, f, &mut diagnostics);
        (system, diagnostics.into_sorted(), sources)
    }

    #[test]
    fn services_ports_health_and_dependencies() {
        let (system, diags, _) = read(
            "name: shop\nservices:\n  web:\n    image: shop/web\n    ports: [\"8080:80\"]\n    depends_on:\n      api: {condition: service_healthy}\n  api:\n    image: shop/api\n    environment:\n      DATABASE_URL: postgres://u:p@db:5432/shop\n      CACHE_HOST: cache\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:8000/health\"]\n      interval: 5s\n      timeout: 2s\n      retries: 3\n  db:\n    image: postgres:16\n    deploy:\n      resources:\n        limits: {cpus: '0.5', memory: 256M}\n  cache:\n    image: redis:7\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let system = system.unwrap();
        assert_eq!(system.project, "shop");
        let api = system.services.iter().find(|s| s.name == "api").unwrap();
        let health = api.healthcheck.as_ref().unwrap();
        assert_eq!(health.http, Some((8000, "/health".to_string())));
        assert_eq!(health.patience_ms, 21_000);
        let edges: Vec<_> = system
            .dependencies
            .iter()
            .map(|d| (d.from.as_str(), d.to.as_str(), d.port))
            .collect();
        assert_eq!(
            edges,
            vec![
                ("web", "api", None),
                ("api", "db", Some(5432)),
                ("api", "cache", None)
            ]
        );
        let db = system.services.iter().find(|s| s.name == "db").unwrap();
        assert_eq!(db.cpus.as_deref(), Some("0.5"));
        assert_eq!(db.memory.as_deref(), Some("256M"));
    }

    #[test]
    fn unknown_and_unmapped_keys_are_reported_at_their_line() {
        let (system, diags, sources) = read(
            "services:\n  api:\n    image: a\n    depend_on: [db]\n    volumes: [\"./x:/x\"]\n  db:\n    image: postgres\nx-common: &c {a: 1}\n",
        );
        assert!(system.is_some());
        let lines: Vec<_> = diags
            .iter()
            .map(|d| {
                let span = d.primary_span().unwrap();
                (d.code, sources.line_col(span.file, span.start).0)
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (Code::UnknownKey, 4),
                (Code::Unmapped, 5),
                (Code::Unmapped, 8)
            ]
        );
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `depends_on`?"));
    }

    #[test]
    fn ports_and_durations() {
        let p = parse_port("127.0.0.1:8080:80/tcp").unwrap();
        assert_eq!(
            (p.host_ip.as_deref(), p.published, p.target),
            (Some("127.0.0.1"), Some(8080), 80)
        );
        assert!(parse_port("9000-9001:80").is_none());
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("5"), None);
    }

    #[test]
    fn malformed_yaml_reads_nothing() {
        let (system, diags, _) = read("services:\n  api: [\n");
        assert!(system.is_none());
        assert_eq!(diags[0].code, Code::Syntax);
    }
}
