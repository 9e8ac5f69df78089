//! Which containers a resource names: by name, by id, or by label (several selectors at
//! once), and the blast radius: all of them, a count, or a fraction, picked with the run's
//! seeded randomness so the same seed picks the same containers.

use super::docker_error::DockerError;
use crate::plan::container_rules::{container_name_problem, label_key_problem};
use crate::plan::seed::rng_for;
use crate::plan::{Pick, ResourceTarget};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerSelector {
    /// A name (a leading `/` is allowed) or an id; the engine resolves either.
    Name(String),
    /// A full id or a unique prefix of one.
    Id(String),
    /// Running containers with this label (`key` or `key=value`).
    Label { key: String, value: Option<String> },
}

impl ContainerSelector {
    /// A label selector from `key` or `key=value`.
    pub fn label(text: &str) -> Result<ContainerSelector, DockerError> {
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value.to_string())),
            None => (text, None),
        };
        let selector = ContainerSelector::Label {
            key: key.to_string(),
            value,
        };
        selector.validate()?;
        Ok(selector)
    }

    /// Checks the selector could match something.
    pub fn validate(&self) -> Result<(), DockerError> {
        let invalid = |reason: &str| {
            Err(DockerError::InvalidSelector {
                selector: self.to_string(),
                reason: reason.to_string(),
            })
        };
        match self {
            ContainerSelector::Name(name) => {
                if let Some(reason) = container_name_problem(name) {
                    return invalid(reason);
                }
            }
            ContainerSelector::Id(id) => {
                if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                    return invalid("an id is 1 to 64 hexadecimal digits");
                }
            }
            ContainerSelector::Label { key, .. } => {
                if let Some(reason) = label_key_problem(key) {
                    return invalid(reason);
                }
            }
        }
        Ok(())
    }

    /// The `label` filter value for the engine's list call.
    pub(super) fn label_filter(&self) -> Option<String> {
        match self {
            ContainerSelector::Label { key, value: None } => Some(key.clone()),
            ContainerSelector::Label {
                key,
                value: Some(value),
            } => Some(format!("{key}={value}")),
            _ => None,
        }
    }

    /// The name or id to inspect.
    pub(super) fn reference(&self) -> Option<&str> {
        match self {
            ContainerSelector::Name(name) => Some(name.strip_prefix('/').unwrap_or(name)),
            ContainerSelector::Id(id) => Some(id),
            ContainerSelector::Label { .. } => None,
        }
    }
}

impl fmt::Display for ContainerSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerSelector::Name(name) => write!(f, "container `{name}`"),
            ContainerSelector::Id(id) => write!(f, "container id `{id}`"),
            ContainerSelector::Label { .. } => {
                write!(f, "label `{}`", self.label_filter().unwrap_or_default())
            }
        }
    }
}

/// The containers a plan's resource names and its blast radius: a `container "name"` (a name
/// or an id) is all of one; a `container label "k=v"` has its pick. `None` for resources
/// that are not existing containers (processes, images pfi creates).
pub fn plan_selection(
    target: &ResourceTarget,
) -> Result<Option<(Vec<ContainerSelector>, Pick)>, DockerError> {
    Ok(match target {
        ResourceTarget::Container { name } => {
            let selector = ContainerSelector::Name(name.clone());
            selector.validate()?;
            Some((vec![selector], Pick::All))
        }
        ResourceTarget::ContainerLabel { selector, pick } => {
            validate_pick(pick)?;
            Some((vec![ContainerSelector::label(selector)?], pick.clone()))
        }
        ResourceTarget::Service { name, pick } => {
            validate_pick(pick)?;
            let selector = ContainerSelector::Label {
                key: super::SERVICE_NAME_LABEL.to_string(),
                value: Some(name.clone()),
            };
            Some((vec![selector], pick.clone()))
        }
        ResourceTarget::ServiceLabel { selector, pick } => {
            // Services are selected by their own labels, through the manager (`SwarmTasks`);
            // the selector's syntax is a container label's.
            validate_pick(pick)?;
            ContainerSelector::label(selector)?;
            None
        }
        ResourceTarget::Process { .. } | ResourceTarget::Image { .. } => None,
    })
}

/// Checks a blast radius.
pub fn validate_pick(pick: &Pick) -> Result<(), DockerError> {
    let invalid = |reason: String| {
        Err(DockerError::InvalidSelector {
            selector: format!("pick {pick:?}"),
            reason,
        })
    };
    match pick {
        Pick::All => Ok(()),
        Pick::Count(0) => invalid("a count of 0 containers would select nothing".to_string()),
        Pick::Count(_) => Ok(()),
        Pick::Fraction(f) if !(*f > 0.0 && *f <= 1.0) => invalid(format!(
            "a fraction must be more than 0 and at most 1, not {f}"
        )),
        Pick::Fraction(_) => Ok(()),
    }
}

/// The indices (ascending) of the `candidates` items a pick selects. `Count(n)` takes `n`
/// (all when fewer match); `Fraction(f)` takes `ceil(f × candidates)`, so at least one.
/// Random choices come from the run's `seed` and `stream` (one per resource), so the same
/// seed and the same candidates give the same selection.
pub fn pick_indices(candidates: usize, pick: &Pick, seed: u64, stream: &str) -> Vec<usize> {
    let wanted = match pick {
        Pick::All => candidates,
        Pick::Count(count) => (*count as usize).min(candidates),
        Pick::Fraction(fraction) => {
            ((fraction.clamp(0.0, 1.0) * candidates as f64).ceil() as usize).min(candidates)
        }
    };
    if wanted >= candidates {
        return (0..candidates).collect();
    }
    let mut rng = rng_for(seed, stream);
    let mut indices = rand::seq::index::sample(&mut rng, candidates, wanted).into_vec();
    indices.sort_unstable();
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_selectors() {
        assert_eq!(
            ContainerSelector::label("app=web").unwrap(),
            ContainerSelector::Label {
                key: "app".into(),
                value: Some("web".into())
            }
        );
        assert_eq!(
            ContainerSelector::label("tier").unwrap().label_filter(),
            Some("tier".into())
        );
        assert!(ContainerSelector::label("=x").unwrap_err().is_input());
        assert!(ContainerSelector::label("a b=c").is_err());
        assert!(ContainerSelector::Name("/web-1".into()).validate().is_ok());
        assert_eq!(
            ContainerSelector::Name("/web-1".into()).reference(),
            Some("web-1")
        );
        let err = ContainerSelector::Name("web 1".into())
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid container selector container `web 1`")
        );
        assert!(ContainerSelector::Id("abc123".into()).validate().is_ok());
        assert!(ContainerSelector::Id("xyz".into()).validate().is_err());
        assert!(ContainerSelector::Name(String::new()).validate().is_err());
    }

    #[test]
    fn reads_the_plans_container_targets() {
        let by_name = ResourceTarget::Container {
            name: "shop-db".into(),
        };
        let (selectors, pick) = plan_selection(&by_name).unwrap().unwrap();
        assert_eq!(selectors, vec![ContainerSelector::Name("shop-db".into())]);
        assert_eq!(pick, Pick::All);
        let by_label = ResourceTarget::ContainerLabel {
            selector: "app=web".into(),
            pick: Pick::Count(2),
        };
        let (selectors, pick) = plan_selection(&by_label).unwrap().unwrap();
        assert_eq!(
            selectors,
            vec![ContainerSelector::label("app=web").unwrap()]
        );
        assert_eq!(pick, Pick::Count(2));
        let bad = ResourceTarget::ContainerLabel {
            selector: "app=web".into(),
            pick: Pick::Fraction(0.0),
        };
        assert!(plan_selection(&bad).unwrap_err().is_input());
        let image = ResourceTarget::Image {
            image: "x".into(),
            cmd: vec![],
            env: Default::default(),
            ports: vec![],
        };
        assert!(plan_selection(&image).unwrap().is_none());
    }

    #[test]
    fn validates_picks() {
        assert!(validate_pick(&Pick::All).is_ok());
        assert!(validate_pick(&Pick::Count(2)).is_ok());
        assert!(validate_pick(&Pick::Count(0)).unwrap_err().is_input());
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(validate_pick(&Pick::Fraction(bad)).is_err(), "{bad}");
        }
        assert!(validate_pick(&Pick::Fraction(1.0)).is_ok());
    }

    #[test]
    fn picks_counts_and_fractions() {
        assert_eq!(pick_indices(4, &Pick::All, 1, "web"), vec![0, 1, 2, 3]);
        assert_eq!(pick_indices(3, &Pick::Count(5), 1, "web"), vec![0, 1, 2]);
        assert_eq!(pick_indices(10, &Pick::Count(3), 1, "web").len(), 3);
        assert_eq!(pick_indices(10, &Pick::Fraction(0.25), 1, "web").len(), 3);
        assert_eq!(pick_indices(3, &Pick::Fraction(0.01), 1, "web").len(), 1);
        assert!(pick_indices(0, &Pick::Count(2), 1, "web").is_empty());
    }

    #[test]
    fn the_same_seed_picks_the_same_and_seeds_differ() {
        let a = pick_indices(10, &Pick::Count(3), 42, "resource:web");
        let b = pick_indices(10, &Pick::Count(3), 42, "resource:web");
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let distinct: std::collections::BTreeSet<Vec<usize>> = (0..20)
            .map(|seed| pick_indices(10, &Pick::Count(3), seed, "resource:web"))
            .collect();
        assert!(distinct.len() > 5, "{distinct:?}");
    }
}
