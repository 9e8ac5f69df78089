//! Everything that can go wrong talking to the Docker engine, each naming what it was about.
//! The caller adds where in the scenario the resource was declared and picks the exit code:
//! [`DockerError::is_input`] errors are bad input (2), the rest are the environment (3).

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum DockerError {
    /// The engine cannot be reached (no socket, daemon down, wrong `DOCKER_HOST`).
    Unreachable {
        host: String,
        reason: String,
    },
    /// The socket exists but this user may not use it.
    PermissionDenied {
        host: String,
    },
    /// No container has this name or id (any more).
    NoSuchContainer {
        container: String,
    },
    NoSuchImage {
        image: String,
    },
    NoSuchNetwork {
        network: String,
    },
    /// A label selector matched no running container.
    NoMatch {
        selector: String,
    },
    /// A selector or pick that can never match anything (input).
    InvalidSelector {
        selector: String,
        reason: String,
    },
    /// A container spec that cannot be created (input).
    InvalidSpec {
        resource: String,
        reason: String,
    },
    /// The engine refused a request.
    Engine {
        action: &'static str,
        object: String,
        status: u16,
        message: String,
    },
    /// A container started again (a revert) that is not running when inspected after.
    DidNotStayRunning {
        container: String,
        status: String,
    },
    /// pfi removes only the containers it created.
    NotCreatedByPfi {
        container: String,
    },
    /// A container pfi created could not be recorded in the run ledger; it was not created.
    Record {
        resource: String,
        source: io::Error,
    },
}

impl DockerError {
    /// Whether the scenario is at fault (exit 2) rather than the environment (exit 3).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            DockerError::InvalidSelector { .. } | DockerError::InvalidSpec { .. }
        )
    }

    /// Whether the error says the container no longer exists.
    pub fn is_gone(&self) -> bool {
        matches!(self, DockerError::NoSuchContainer { .. })
    }

    /// Whether the engine refused a removal because another removal of the same container is
    /// under way (HTTP 409 "removal of container ... is already in progress"): the container
    /// is going, not staying.
    pub fn is_removal_in_progress(&self) -> bool {
        matches!(
            self,
            DockerError::Engine { status: 409, message, .. } if message.contains("already in progress")
        )
    }

    /// Turns a bollard error from `action` on `object` (a container, image or network, as
    /// `kind` says) into an error that names it.
    pub(super) fn from_bollard(
        err: bollard::errors::Error,
        host: &str,
        action: &'static str,
        object: Object<'_>,
    ) -> DockerError {
        use bollard::errors::Error as B;
        match err {
            B::DockerResponseServerError {
                status_code,
                message,
            } => {
                if status_code == 404 {
                    match object {
                        Object::Container(name) => {
                            return DockerError::NoSuchContainer {
                                container: name.to_string(),
                            };
                        }
                        Object::Image(name) if message.contains("image") => {
                            return DockerError::NoSuchImage {
                                image: name.to_string(),
                            };
                        }
                        Object::Network(name) if message.contains("network") => {
                            return DockerError::NoSuchNetwork {
                                network: name.to_string(),
                            };
                        }
                        _ => {}
                    }
                }
                DockerError::Engine {
                    action,
                    object: object.to_string(),
                    status: status_code,
                    message: message.trim().to_string(),
                }
            }
            B::SocketNotFoundError(path) => DockerError::Unreachable {
                host: host.to_string(),
                reason: format!("the socket {path} does not exist"),
            },
            B::RequestTimeoutError => DockerError::Unreachable {
                host: host.to_string(),
                reason: format!("the engine did not answer in time ({action} {object})"),
            },
            B::IOError { err } if err.kind() == io::ErrorKind::PermissionDenied => {
                DockerError::PermissionDenied {
                    host: host.to_string(),
                }
            }
            other => match io_kind(&other) {
                Some(io::ErrorKind::PermissionDenied) => DockerError::PermissionDenied {
                    host: host.to_string(),
                },
                Some(_) | None => DockerError::Unreachable {
                    host: host.to_string(),
                    reason: chain(&other),
                },
            },
        }
    }
}

/// What a request was about, for messages and for reading a 404.
#[derive(Debug, Clone, Copy)]
pub(super) enum Object<'a> {
    Engine,
    Container(&'a str),
    Image(&'a str),
    Network(&'a str),
    Service(&'a str),
    Node(&'a str),
}

impl fmt::Display for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Engine => f.write_str("the engine"),
            Object::Container(name) => write!(f, "container `{name}`"),
            Object::Image(name) => write!(f, "image `{name}`"),
            Object::Network(name) => write!(f, "network `{name}`"),
            Object::Service(name) => write!(f, "service `{name}`"),
            Object::Node(name) => write!(f, "node `{name}`"),
        }
    }
}

/// The kind of the first I/O error in the chain of causes.
fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

/// The error and its causes on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(cause) = current {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        current = cause.source();
    }
    text
}

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerError::Unreachable { host, reason } => write!(
                f,
                "cannot reach the Docker engine at {host}: {reason}; is Docker running (`docker info`)? Set DOCKER_HOST to use another engine"
            ),
            DockerError::PermissionDenied { host } => write!(
                f,
                "permission denied on the Docker engine at {host}; run pfi as a user in the `docker` group (or as root), or set DOCKER_HOST"
            ),
            DockerError::NoSuchContainer { container } => write!(
                f,
                "container `{container}` does not exist (it may have been removed during the run); check `docker ps -a`"
            ),
            DockerError::NoSuchImage { image } => write!(
                f,
                "image `{image}` is not on this Docker engine; pfi does not pull images: build or pull it first"
            ),
            DockerError::NoSuchNetwork { network } => write!(
                f,
                "network `{network}` does not exist; create it first (`docker network create {network}`)"
            ),
            DockerError::NoMatch { selector } => write!(
                f,
                "no running container matches {selector}; start the containers first (`docker ps --filter label=...`)"
            ),
            DockerError::InvalidSelector { selector, reason } => {
                write!(f, "invalid container selector {selector}: {reason}")
            }
            DockerError::InvalidSpec { resource, reason } => {
                write!(f, "cannot create a container for `{resource}`: {reason}")
            }
            DockerError::Engine {
                action,
                object,
                status,
                message,
            } => write!(
                f,
                "the Docker engine refused to {action} {object} (HTTP {status}): {message}"
            ),
            DockerError::DidNotStayRunning { container, status } => write!(
                f,
                "container `{container}` did not stay running after it was started again: it is {status}"
            ),
            DockerError::NotCreatedByPfi { container } => write!(
                f,
                "container `{container}` was not created by this run; pfi removes only the containers it created"
            ),
            DockerError::Record { resource, source } => write!(
                f,
                "cannot record the container of `{resource}` in the run ledger ({source}); it was not created"
            ),
        }
    }
}

impl std::error::Error for DockerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DockerError::Record { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::errors::Error as B;

    fn server(status_code: u16, message: &str) -> B {
        B::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    #[test]
    fn a_404_names_the_missing_object() {
        let err = DockerError::from_bollard(
            server(404, "No such container: web"),
            "unix:///var/run/docker.sock",
            "pause",
            Object::Container("web"),
        );
        assert!(err.is_gone());
        assert!(
            err.to_string()
                .starts_with("container `web` does not exist")
        );
        let err = DockerError::from_bollard(
            server(404, "No such image: nope:1"),
            "h",
            "create a container from",
            Object::Image("nope:1"),
        );
        assert!(matches!(err, DockerError::NoSuchImage { .. }), "{err}");
        assert!(!err.is_input());
    }

    #[test]
    fn other_refusals_keep_the_engine_message() {
        let err = DockerError::from_bollard(
            server(409, "Container abc is not running\n"),
            "h",
            "pause",
            Object::Container("web"),
        );
        assert_eq!(
            err.to_string(),
            "the Docker engine refused to pause container `web` (HTTP 409): Container abc is not running"
        );
    }

    #[test]
    fn transport_errors_say_what_to_do() {
        let missing = DockerError::from_bollard(
            B::SocketNotFoundError("/nope.sock".into()),
            "unix:///nope.sock",
            "ping",
            Object::Engine,
        );
        let text = missing.to_string();
        assert!(text.contains("/nope.sock does not exist"), "{text}");
        assert!(text.contains("DOCKER_HOST"), "{text}");
        let denied = DockerError::from_bollard(
            B::IOError {
                err: io::Error::from(io::ErrorKind::PermissionDenied),
            },
            "unix:///var/run/docker.sock",
            "ping",
            Object::Engine,
        );
        assert!(matches!(denied, DockerError::PermissionDenied { .. }));
        assert!(denied.to_string().contains("`docker` group"));
    }

    #[test]
    fn selector_and_spec_errors_are_input() {
        let err = DockerError::InvalidSelector {
            selector: "label ``".into(),
            reason: "empty".into(),
        };
        assert!(err.is_input());
    }
}
