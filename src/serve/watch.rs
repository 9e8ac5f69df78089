//! Watches: a scenario run with its telemetry, `predict` and `mitigate` blocks but without
//! faults and without an end — it watches the system, predicts and mitigates until it is
//! aborted or the server stops. Its predictions are stored as they are made.

use crate::plan::Plan;

/// How long a watch's experiment lasts: a century, i.e. until it is stopped.
const FOREVER_MS: f64 = 100.0 * 365.25 * 24.0 * 3600.0 * 1000.0;

/// Turns a checked plan into a watch's: no faults, no end.
pub fn into_watch(plan: &mut Plan) {
    plan.faults.clear();
    plan.experiment.duration_ms = FOREVER_MS;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_text;
    use std::path::Path;

    #[test]
    fn a_watch_has_no_faults_and_no_end() {
        let text = "experiment \"w\" {\n  duration 1s\n}\nresource a: process [\"true\"]\n\
                    fault f: pause on a {\n  at 0ms\n  lasting 1s\n}\n";
        let mut plan = check_text(Path::new("w.pfi"), text).plan.unwrap();
        into_watch(&mut plan);
        assert!(plan.faults.is_empty());
        assert!(crate::model::timeline(&plan, 1).activations.is_empty());
        assert!(plan.experiment.duration_ms > 1e12);
    }
}
