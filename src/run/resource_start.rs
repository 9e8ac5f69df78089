//! Starting what a plan declares: a link (its proxy listener) and a process resource (its
//! program found, its readiness check, recorded in the ledger before it starts). The run's
//! start-up and the mitigation engine's `activate` both start resources here.

use super::journal::{EventKind, Journal};
use super::program::resolve_program;
use super::run_error::RunError;
use super::runtime::Runtime;
use crate::plan::{CheckKind, LinkPlan, ResourcePlan, ResourceTarget};
use crate::proxy::LinkConfig;
use crate::targets::{ProcessSpec, ProcessTarget, Readiness};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Start timeout of a resource without a `ready` check.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn located(
    what: &str,
    at: &crate::plan::Location,
    message: impl std::fmt::Display,
) -> RunError {
    RunError::environment(format!("{what} (declared at {at}): {message}"))
}

pub(super) async fn start_link(
    link: &LinkPlan,
    runtime: &Arc<Mutex<Runtime>>,
    journal: &Journal,
) -> Result<(), RunError> {
    let what = format!("link `{}`", link.name);
    let listen: SocketAddr = link.listen.parse().map_err(|_| {
        located(
            &what,
            &link.at,
            format!("`{}` is not an address", link.listen),
        )
    })?;
    let upstream = match &link.upstream_resource {
        Some(_) => {
            let port = link.upstream.rsplit(':').next().unwrap_or_default();
            format!("127.0.0.1:{port}")
        }
        None => link.upstream.clone(),
    };
    let config = if link.http {
        LinkConfig::http(&link.name, listen, &upstream)
    } else {
        LinkConfig::tcp(&link.name, listen, &upstream)
    };
    let mut rt = runtime.lock().await;
    let info = rt.proxy.add_link(config).await.map_err(|err| {
        located(
            &what,
            &link.at,
            format!("cannot listen on {listen}: {err}; free the port or pick another"),
        )
    })?;
    rt.links.push(link.name.clone());
    journal.record(EventKind::LinkListening {
        link: link.name.clone(),
        listen: info.listen.to_string(),
        upstream,
    });
    Ok(())
}

pub(super) async fn start_resource(
    resource: &ResourcePlan,
    logs: &std::path::Path,
    runtime: &Arc<Mutex<Runtime>>,
    journal: &Journal,
) -> Result<(), RunError> {
    let what = format!("resource `{}`", resource.name);
    let ResourceTarget::Process {
        argv,
        env,
        cwd,
        stop_grace_ms,
    } = &resource.target
    else {
        return Err(located(
            &what,
            &resource.at,
            "not a process resource (containers start in `containers`)",
        ));
    };
    let mut argv = argv.clone();
    let Some(program) = argv.first().cloned() else {
        return Err(located(&what, &resource.at, "no command to run"));
    };
    let Some(resolved) = resolve_program(&program) else {
        return Err(located(
            &what,
            &resource.at,
            format!(
                "program `{program}` was not found on PATH nor beside pfi; install it or give its full path"
            ),
        ));
    };
    argv[0] = resolved.to_string_lossy().into_owned();
    let (readiness, timeout) = match &resource.ready {
        Some(ready) => (
            match &ready.check {
                CheckKind::Http { url } => Readiness::Http { url: url.clone() },
                CheckKind::Tcp { address } => Readiness::Tcp {
                    address: address.clone(),
                },
            },
            Duration::from_secs_f64(ready.interval_ms.max(ready.timeout_ms).max(1.0) / 1000.0),
        ),
        None => (Readiness::Started, DEFAULT_START_TIMEOUT),
    };
    let mut spec = ProcessSpec::new(&resource.name, argv, logs)
        .readiness(readiness)
        .start_timeout(timeout)
        .stop_grace(Duration::from_secs_f64(stop_grace_ms.max(0.0) / 1000.0));
    for (key, value) in env {
        spec = spec.env(key, value);
    }
    if let Some(cwd) = cwd {
        spec = spec.cwd(cwd);
    }
    let ledger = runtime.lock().await.ledger.clone();
    let target =
        ProcessTarget::recorded(spec, ledger).map_err(|err| located(&what, &resource.at, err))?;
    runtime.lock().await.processes.push(target.clone());
    journal.record(EventKind::ResourceStarting {
        resource: resource.name.clone(),
    });
    let identity = target
        .start()
        .await
        .map_err(|err| located(&what, &resource.at, err))?;
    journal.record(EventKind::ResourceReady {
        resource: resource.name.clone(),
        pid: identity.pid,
    });
    Ok(())
}
