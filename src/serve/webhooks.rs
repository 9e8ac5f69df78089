//! `Webhooks`: posts the service's predictions and verdicts as JSON to the URLs given with
//! `pfi serve --webhook URL` (repeatable), through hyper. Every prediction of a run or a
//! watch, as it is made: `{"type": "prediction", "run", "experiment", "kind", "resource",
//! "confidence", "signals", ...}`; every run's end: `{"type": "verdict", "run", "experiment",
//! "status", "exit_code", "max_risk", "why"}`. A receiver that fails or does not answer within
//! 10 s is logged and skipped; it never holds up a run.

use super::client::Client;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Webhooks {
    receivers: Vec<(String, Arc<Client>)>,
}

impl Webhooks {
    pub fn new(urls: &[String]) -> Result<Webhooks, String> {
        let receivers = urls
            .iter()
            .map(|url| {
                Client::new(url, None)
                    .map(|client| (url.clone(), Arc::new(client)))
                    .map_err(|e| format!("--webhook {url}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Webhooks { receivers })
    }

    /// Posts `payload` to every receiver, in the background.
    pub fn send(&self, payload: Value) {
        let payload = Arc::new(payload);
        for (url, client) in &self.receivers {
            let (url, client, payload) = (url.clone(), client.clone(), payload.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(TIMEOUT, client.json("POST", "", Some(&payload))).await {
                    Ok(Ok((status, _))) if (200..300).contains(&status) => {}
                    Ok(Ok((status, _))) => {
                        tracing::warn!(%url, status, "a webhook refused a notification")
                    }
                    Ok(Err(err)) => tracing::warn!(%url, "cannot reach a webhook: {err}"),
                    Err(_) => tracing::warn!(%url, "a webhook did not answer within 10 s"),
                }
            });
        }
    }
}

/// A prediction as the API shows it (with its `run`), for the webhooks.
pub fn prediction_payload(prediction: &Value, experiment: &str) -> Value {
    let mut payload = json!({ "type": "prediction", "experiment": experiment });
    if let (Some(out), Some(fields)) = (payload.as_object_mut(), prediction.as_object()) {
        for (key, value) in fields {
            out.entry(key.clone()).or_insert(value.clone());
        }
    }
    payload
}

/// A run's end, for the webhooks.
pub fn verdict_payload(
    run: &str,
    experiment: &str,
    status: &str,
    exit_code: i64,
    max_risk: Option<f64>,
    why: &str,
) -> Value {
    json!({
        "type": "verdict",
        "run": run,
        "experiment": experiment,
        "status": status,
        "exit_code": exit_code,
        "max_risk": max_risk,
        "why": why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_say_what_they_are() {
        let p = json!({"run": "r1", "kind": "memory_leak", "resource": "api", "confidence": 0.9});
        let payload = prediction_payload(&p, "shop");
        assert_eq!(payload["type"], "prediction");
        assert_eq!(payload["experiment"], "shop");
        assert_eq!(payload["resource"], "api");
        let v = verdict_payload("r1", "shop", "failed", 1, Some(0.2), "ping.error_rate < 1%");
        assert_eq!(
            (v["type"].as_str(), v["exit_code"].as_i64()),
            (Some("verdict"), Some(1))
        );
        assert!(Webhooks::new(&["https://x".into()]).is_err());
    }
}
