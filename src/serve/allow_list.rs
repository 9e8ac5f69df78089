//! `AllowList`: what a scenario submitted over the API may start or act on. Configured with
//! `pfi serve --allow NAME` (repeatable): a program (`pfi-demo`, `/usr/bin/redis-server`,
//! resolved like a process resource's program and compared by canonical path), `image:NAME`
//! for a Docker image, `container:NAME` for an existing container and `label:SELECTOR` for
//! containers chosen by label, `service:NAME` for the tasks of a Swarm service (`service-label:SELECTOR` for those of the services
//! carrying a label). Nothing else is allowed: with no `--allow`, only scenarios
//! without processes, command probes and containers run.

use crate::plan::{Plan, ProbeCheck, ResourceTarget};
use crate::run::resolve_program;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct AllowList {
    programs: BTreeSet<PathBuf>,
    others: BTreeSet<String>,
    written: Vec<String>,
}

impl AllowList {
    /// Resolves every entry; an entry naming no program is an error.
    pub fn new(entries: &[String]) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for entry in entries {
            list.written.push(entry.clone());
            if [
                "image:",
                "container:",
                "label:",
                "service:",
                "service-label:",
            ]
            .iter()
            .any(|prefix| entry.starts_with(prefix))
            {
                list.others.insert(entry.clone());
                continue;
            }
            let program = canonical(entry).ok_or_else(|| {
                format!("--allow {entry}: no such program (on PATH or beside pfi)")
            })?;
            list.programs.insert(program);
        }
        Ok(list)
    }

    /// The entries as configured.
    pub fn entries(&self) -> &[String] {
        &self.written
    }

    /// Everything in `plan` that is not allowed, as messages naming where it is declared.
    pub fn violations(&self, plan: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        let mut program = |argv: &[String], what: String, at: &crate::plan::Location| {
            let Some(name) = argv.first() else { return };
            let allowed = canonical(name).is_some_and(|path| self.programs.contains(&path));
            if !allowed {
                out.push(format!(
                    "{at}: {what} runs `{name}`, which is not on the server's allow-list"
                ));
            }
        };
        for resource in &plan.resources {
            if let ResourceTarget::Process { argv, .. } = &resource.target {
                program(argv, format!("resource `{}`", resource.name), &resource.at);
            }
        }
        for probe in &plan.probes {
            if let ProbeCheck::Command { argv, .. } = &probe.check {
                program(argv, format!("probe `{}`", probe.name), &probe.at);
            }
        }
        for resource in &plan.resources {
            let needed = match &resource.target {
                ResourceTarget::Process { .. } => continue,
                ResourceTarget::Container { name } => format!("container:{name}"),
                ResourceTarget::ContainerLabel { selector, .. } => format!("label:{selector}"),
                ResourceTarget::Image { image, .. } => format!("image:{image}"),
                ResourceTarget::Service { name, .. } => format!("service:{name}"),
                ResourceTarget::ServiceLabel { selector, .. } => {
                    format!("service-label:{selector}")
                }
            };
            if !self.others.contains(&needed) {
                out.push(format!(
                    "{}: resource `{}` needs `{needed}`, which is not on the server's allow-list",
                    resource.at, resource.name
                ));
            }
        }
        out
    }
}

fn canonical(name: &str) -> Option<PathBuf> {
    resolve_program(name).and_then(|path| path.canonicalize().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_compare_by_resolved_path() {
        let list = AllowList::new(&["/bin/sh".to_string()]).unwrap();
        assert!(list.programs.contains(&canonical("/bin/sh").unwrap()));
        assert!(AllowList::new(&["no-such-program-pfi".to_string()]).is_err());
        let list = AllowList::new(&["image:redis:7".to_string()]).unwrap();
        assert!(list.others.contains("image:redis:7"));
    }
}
