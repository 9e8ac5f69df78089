//! Analysis at the edge of the flow: what users already have → scenario drafts and failure
//! points. `pfi init --from` reads infrastructure templates (Compose, Kubernetes manifests)
//! into a `SystemMap` and drafts a scenario from it; `pfi analyze` parses handler code with
//! tree-sitter and finds outbound calls and what guards them. Nothing in the flow calls this
//! stage; it calls into `check` (the draft must check) and `model` (the draft's faults are
//! ranked by the risk model).

pub mod call_catalog;
pub mod call_scanner;
pub mod compose_file;
pub mod failure_point;
pub mod kubernetes_manifests;
pub mod package_index;
pub mod scenario_draft;
pub mod source_analysis;
pub mod source_language;
pub mod system_map;
pub mod yaml_tree;

pub use compose_file::read_compose;
pub use kubernetes_manifests::read_kubernetes;
pub use scenario_draft::{ScenarioDraft, draft};
pub use source_analysis::SourceAnalysis;
pub use system_map::SystemMap;
