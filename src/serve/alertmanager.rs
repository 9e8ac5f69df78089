//! `Alertmanager`: sends the service's alerts to a Prometheus Alertmanager through its v2 API
//! (`POST /api/v2/alerts`), with labels to route them by: `alertname` (`PfiPredictedFault`
//! for every prediction of a run or a watch, `PfiRunFailed` for every run that failed, was
//! aborted or could not run), `source="pfi"`, `severity`, `run`, `experiment`, and for a
//! prediction `kind` and `resource`. Configured with `pfi serve --alertmanager URL`.

use super::client::Client;
use serde_json::{Value, json};

pub struct Alertmanager {
    client: Client,
}

impl Alertmanager {
    pub fn new(url: &str) -> Result<Alertmanager, String> {
        Ok(Alertmanager {
            client: Client::new(url, None).map_err(|e| e.to_string())?,
        })
    }

    /// Posts alerts; a failure is logged, never fatal to the run.
    pub async fn send(&self, alerts: Vec<Value>) {
        match self
            .client
            .json("POST", "/api/v2/alerts", Some(&Value::from(alerts)))
            .await
        {
            Ok((200, _)) => {}
            Ok((status, body)) => tracing::warn!(status, %body, "Alertmanager refused an alert"),
            Err(err) => tracing::warn!("cannot reach Alertmanager: {err}"),
        }
    }
}

/// The alert for a prediction (`prediction` as the API shows it, with its `run`).
pub fn prediction_alert(prediction: &Value, experiment: &str) -> Value {
    let text = |key: &str| prediction[key].as_str().unwrap_or("").to_string();
    json!({
        "labels": {
            "alertname": "PfiPredictedFault",
            "source": "pfi",
            "severity": "warning",
            "run": text("run"),
            "experiment": experiment,
            "kind": text("kind"),
            "resource": text("resource"),
        },
        "annotations": {
            "summary": format!(
                "pfi predicts {} on {} (confidence {:.2}, pattern {})",
                text("kind"),
                text("resource"),
                prediction["confidence"].as_f64().unwrap_or(0.0),
                text("pattern")
            ),
        },
    })
}

/// The alert for a run that did not pass.
pub fn run_alert(run: &str, experiment: &str, status: &str, why: &str) -> Value {
    json!({
        "labels": {
            "alertname": "PfiRunFailed",
            "source": "pfi",
            "severity": if status == "error" { "critical" } else { "warning" },
            "run": run,
            "experiment": experiment,
            "status": status,
        },
        "annotations": { "summary": format!("pfi run {run} ({experiment}) {status}: {why}") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_carry_routing_labels() {
        let p = json!({"run": "r1", "kind": "memory_leak", "resource": "api", "confidence": 0.9, "pattern": "leak"});
        let alert = prediction_alert(&p, "shop");
        assert_eq!(alert["labels"]["alertname"], "PfiPredictedFault");
        assert_eq!(alert["labels"]["resource"], "api");
        assert!(
            alert["annotations"]["summary"]
                .as_str()
                .unwrap()
                .contains("0.90")
        );
        let alert = run_alert("r1", "shop", "failed", "ping.error_rate < 1%");
        assert_eq!(alert["labels"]["status"], "failed");
    }
}
