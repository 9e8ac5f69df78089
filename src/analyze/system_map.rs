//! What an infrastructure template says about a system, whatever the template: its services,
//! what each publishes and how it is checked, and who depends on whom. The Compose and
//! Kubernetes readers fill it; the scenario draft reads it.

use crate::diagnostic::Span;

impl SystemMap {
    /// Dependencies from service names (or aliases) used as hosts in environment values and
    /// command words: `DATABASE_URL=postgres://db:5432/shop` makes the service need `db`.
    pub fn address_dependencies(&self) -> Vec<Dependency> {
        let mut found = Vec::new();
        for service in &self.services {
            let mut texts: Vec<(Evidence, &str)> = Vec::new();
            for (k, v) in &service.environment {
                let evidence = Evidence::Environment {
                    key: k.clone(),
                    value: v.clone(),
                };
                texts.push((evidence, v.as_str()));
            }
            for w in &service.command {
                texts.push((Evidence::Command { word: w.clone() }, w.as_str()));
            }
            for to in &self.services {
                if to.name == service.name {
                    continue;
                }
                let hosts = std::iter::once(&to.name).chain(&to.aliases);
                let hosts: Vec<&String> = hosts.collect();
                for (evidence, text) in &texts {
                    let mentions = hosts.iter().flat_map(|h| host_mentions(text, h));
                    let Some((port, scheme)) = mentions.into_iter().next() else {
                        continue;
                    };
                    let named_as_address = match evidence {
                        Evidence::Environment { key, .. } => {
                            let key = key.to_ascii_uppercase();
                            ADDRESS_WORDS.iter().any(|w| key.contains(w))
                        }
                        _ => false,
                    };
                    if !(text.contains("://") || port.is_some() || named_as_address) {
                        continue;
                    }
                    found.push(Dependency {
                        from: service.name.clone(),
                        to: to.name.clone(),
                        port: port.or_else(|| scheme.as_deref().and_then(scheme_port)),
                        evidence: evidence.clone(),
                        span: service.span,
                    });
                }
            }
        }
        found
    }
}

/// Words in an environment variable's name that say its value is an address.
const ADDRESS_WORDS: &[&str] = &[
    "HOST", "URL", "ADDR", "URI", "DSN", "SERVER", "ENDPOINT", "BROKER", "SERVICE",
];

/// One edge per pair, in first-seen order: the first evidence, the first known port.
pub fn merge_edges(found: Vec<Dependency>) -> Vec<Dependency> {
    let mut edges: Vec<Dependency> = Vec::new();
    for dep in found {
        match edges
            .iter_mut()
            .find(|e| e.from == dep.from && e.to == dep.to)
        {
            Some(edge) => {
                if edge.port.is_none() {
                    edge.port = dep.port;
                }
            }
            None => edges.push(dep),
        }
    }
    edges
}

/// A system read from a template.
#[derive(Debug, Clone, Default)]
pub struct SystemMap {
    /// The Compose project (or Kubernetes namespace) the services belong to.
    pub project: String,
    /// `Compose` or `Kubernetes`.
    pub source: &'static str,
    /// The file (or folder) it was read from, as the user wrote it.
    pub origin: String,
    pub services: Vec<Service>,
    pub dependencies: Vec<Dependency>,
}

/// One service (a Compose service, a Kubernetes workload).
#[derive(Debug, Clone, Default)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    /// Ports published on the host.
    pub published: Vec<PublishedPort>,
    /// Ports the container listens on (published or only exposed to the network).
    pub container_ports: Vec<u16>,
    pub healthcheck: Option<Healthcheck>,
    pub replicas: Option<u32>,
    pub cpus: Option<String>,
    pub memory: Option<String>,
    /// Environment variables, in the file's order.
    pub environment: Vec<(String, String)>,
    pub command: Vec<String>,
    /// Other names the service is reached by (hostname, container name, network aliases).
    pub aliases: Vec<String>,
    /// Where it is declared.
    pub span: Span,
}

/// `HOST_IP:PUBLISHED:TARGET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    pub host_ip: Option<String>,
    pub published: u16,
    pub target: u16,
}

/// A readiness or liveness check as the template states it.
#[derive(Debug, Clone, Default)]
pub struct Healthcheck {
    /// The command (Compose `test`, a probe's exec command), or empty for an HTTP/TCP probe.
    pub command: Vec<String>,
    /// An HTTP probe's path and port, or a URL found in the command.
    pub http: Option<(u16, String)>,
    /// A TCP probe's port.
    pub tcp: Option<u16>,
    /// How long the template lets the service take to become healthy, in milliseconds.
    pub patience_ms: u64,
}

/// `from` needs `to`.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub from: String,
    pub to: String,
    /// The port `from` reaches `to` at, when known.
    pub port: Option<u16>,
    pub evidence: Evidence,
    pub span: Span,
}

/// Why a dependency is believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// `depends_on`, with its condition (`service_started`, `service_healthy`, ...).
    DependsOn { condition: String },
    /// An environment variable whose value names the service.
    Environment { key: String, value: String },
    /// A word of the command line.
    Command { word: String },
}

impl Evidence {
    pub fn describe(&self) -> String {
        match self {
            Evidence::DependsOn { condition } => format!("depends_on ({condition})"),
            Evidence::Environment { key, value } => format!("environment {key}={value}"),
            Evidence::Command { word } => format!("command `{word}`"),
        }
    }
}

/// What a service is, guessed from its image: it drives the criticality guess, the type and
/// the default port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Database,
    Cache,
    Queue,
    Proxy,
    App,
}

impl Role {
    pub fn of(image: Option<&str>, name: &str) -> Role {
        let base = image
            .map(image_base)
            .unwrap_or_else(|| name.to_ascii_lowercase());
        let has = |words: &[&str]| words.iter().any(|w| base.contains(w));
        if has(&[
            "postgres",
            "mysql",
            "mariadb",
            "mongo",
            "cassandra",
            "elasticsearch",
            "opensearch",
            "cockroach",
            "clickhouse",
            "couchdb",
            "neo4j",
            "influxdb",
        ]) {
            Role::Database
        } else if has(&["redis", "memcached", "valkey", "keydb", "dragonfly"]) {
            Role::Cache
        } else if has(&[
            "rabbitmq",
            "kafka",
            "nats",
            "zookeeper",
            "redpanda",
            "activemq",
            "pulsar",
        ]) {
            Role::Queue
        } else if has(&["nginx", "traefik", "haproxy", "envoy", "caddy", "httpd"]) {
            Role::Proxy
        } else {
            Role::App
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Role::Database => "a database",
            Role::Cache => "a cache",
            Role::Queue => "a message broker",
            Role::Proxy => "an edge proxy",
            Role::App => "an application service",
        }
    }
}

/// `docker.io/library/postgres:16-alpine` → `postgres`.
pub fn image_base(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last).to_ascii_lowercase()
}

/// The usual port of a URL scheme.
pub fn scheme_port(scheme: &str) -> Option<u16> {
    Some(match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" => 6379,
        "rediss" => 6380,
        "amqp" => 5672,
        "mongodb" => 27017,
        "kafka" => 9092,
        "nats" => 4222,
        "memcached" => 11211,
        "grpc" => 50051,
        _ => return None,
    })
}

/// Where `host` occurs in `text` as a host name (delimited by `//`, `@`, `=`, `,`, a space or
/// the ends, and followed by a port, a path or an end): the port after it, if any, and the
/// scheme before it.
pub fn host_mentions(text: &str, host: &str) -> Vec<(Option<u16>, Option<String>)> {
    let mut out = Vec::new();
    if host.is_empty() {
        return out;
    }
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(host) {
        let start = from + pos;
        let end = start + host.len();
        from = end;
        let before_ok = start == 0 || matches!(bytes[start - 1], b'/' | b'@' | b'=' | b',' | b' ');
        let after_ok = end == bytes.len() || matches!(bytes[end], b':' | b'/' | b',' | b' ' | b'?');
        if !(before_ok && after_ok) {
            continue;
        }
        let port = text[end..]
            .strip_prefix(':')
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok());
        let scheme = text[..start]
            .rfind("://")
            .map(|i| {
                let head = &text[..i];
                let s = head
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+'))
                    .map_or(0, |j| j + 1);
                head[s..].split('+').next().unwrap_or("").to_string()
            })
            .filter(|s| !s.is_empty());
        out.push((port, scheme));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_mentions_find_hosts_not_words() {
        assert_eq!(
            host_mentions("postgres://shop:pw@db:5432/shop", "db"),
            vec![(Some(5432), Some("postgres".to_string()))]
        );
        assert_eq!(
            host_mentions("redis://cache", "cache"),
            vec![(None, Some("redis".to_string()))]
        );
        assert!(host_mentions("debug", "db").is_empty());
        assert!(host_mentions("mode-web", "web").is_empty());
        assert_eq!(host_mentions("db:5432", "db"), vec![(Some(5432), None)]);
    }

    #[test]
    fn roles_from_images() {
        assert_eq!(Role::of(Some("postgres:16"), "x"), Role::Database);
        assert_eq!(
            Role::of(Some("docker.io/library/redis:7"), "x"),
            Role::Cache
        );
        assert_eq!(Role::of(None, "rabbitmq"), Role::Queue);
        assert_eq!(Role::of(Some("shop/api:1"), "api"), Role::App);
        assert_eq!(image_base("ghcr.io/a/b:1@sha256:00"), "b");
    }
}
