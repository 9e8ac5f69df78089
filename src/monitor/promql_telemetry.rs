//! `telemetry NAME: promql "http://prometheus:9090" every 15s { query "EXPR" }`: asks a
//! Prometheus server for the instant value of a PromQL expression (`GET /api/v1/query`) and
//! records it as `NAME.value`.
//!
//! - A scalar, or a vector of one sample, is recorded as `NAME.value`.
//! - A vector of several samples is recorded per series as `NAME.value{a="x",b="y"}` (labels
//!   in name order, `__name__` left out), and summed into `NAME.value`; an empty vector
//!   records nothing (no data is not zero).
//! - Values are recorded at the time of the query, on the run's clock; `NaN` and infinite
//!   values are not recorded. A failed query (connection refused, non-2xx, an `error` status,
//!   a timeout) records nothing and is logged; the next one tries again.

use super::metrics_store::MetricsStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

/// Answers larger than this are refused.
const MAX_ANSWER: usize = 16 << 20;

pub struct PromqlTelemetry {
    name: String,
    url: Uri,
    timeout: Duration,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl PromqlTelemetry {
    /// `server` is the Prometheus server's base URL (`http://127.0.0.1:9090`); checked now.
    pub fn new(
        name: impl Into<String>,
        server: &str,
        query: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let base: Uri = server
            .parse()
            .map_err(|err| format!("`{server}` is not a valid URL: {err}"))?;
        if base.scheme_str() != Some("http") || base.host().is_none() {
            return Err(format!("`{server}` needs an http:// scheme and a host"));
        }
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let url: Uri = format!(
            "{}/api/v1/query?query={encoded}",
            server.trim_end_matches('/')
        )
        .parse()
        .map_err(|err| format!("`{server}`: cannot build the query URL: {err}"))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(PromqlTelemetry {
            name: name.into(),
            url,
            timeout,
            client,
        })
    }

    /// Queries once and records the result; the number of series recorded.
    pub async fn query(&self, store: &MetricsStore) -> Result<usize, String> {
        let answer = tokio::time::timeout(self.timeout, self.fetch())
            .await
            .map_err(|_| format!("no answer from {} within {:?}", self.url, self.timeout))??;
        let answer: Value = serde_json::from_slice(&answer)
            .map_err(|err| format!("{}: the answer is not JSON: {err}", self.url))?;
        let samples = samples(&answer)?;
        Ok(record(&self.name, &samples, store))
    }

    async fn fetch(&self) -> Result<Bytes, String> {
        let request = Request::get(self.url.clone())
            .header(hyper::header::USER_AGENT, "pfi-telemetry")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("cannot build the request: {err}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|err| format!("{}: {err}", self.url))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|err| format!("{}: reading the answer: {err}", self.url))?
            .to_bytes();
        if !status.is_success() {
            let why = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(format!("{} answered {status} {why}", self.url));
        }
        Ok(body)
    }

    /// Queries every `interval` until `shutdown` completes.
    pub async fn run(
        self,
        interval: Duration,
        store: MetricsStore,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticks.tick() => {
                    if let Err(err) = self.query(&store).await {
                        tracing::warn!(telemetry = %self.name, "PromQL query failed: {err}");
                    }
                }
            }
        }
    }
}

/// The samples of a `/api/v1/query` answer: (labels as `{a="x"}`, or empty, and the value).
pub fn samples(answer: &Value) -> Result<Vec<(String, f64)>, String> {
    if answer["status"] != "success" {
        return Err(format!(
            "the query failed: {}",
            answer["error"].as_str().unwrap_or("no reason given")
        ));
    }
    let value_of = |pair: &Value| -> Option<f64> { pair.get(1)?.as_str()?.parse().ok() };
    let data = &answer["data"];
    match data["resultType"].as_str() {
        Some("scalar") => Ok(value_of(&data["result"])
            .map(|v| vec![(String::new(), v)])
            .unwrap_or_default()),
        Some("vector") => Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sample| {
                let value = value_of(&sample["value"])?;
                let mut labels: Vec<(&str, &str)> = sample["metric"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != "__name__")
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect();
                labels.sort();
                let key = if labels.is_empty() {
                    String::new()
                } else {
                    let inner: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    format!("{{{}}}", inner.join(","))
                };
                Some((key, value))
            })
            .collect()),
        other => Err(format!(
            "a {} result: pfi reads instant scalars and vectors (not a range query)",
            other.unwrap_or("missing")
        )),
    }
}

/// Records the samples under `NAME.value`; the number of series written.
pub fn record(name: &str, samples: &[(String, f64)], store: &MetricsStore) -> usize {
    let at = store.now();
    let finite: Vec<&(String, f64)> = samples.iter().filter(|(_, v)| v.is_finite()).collect();
    match finite.as_slice() {
        [] => 0,
        [(_, value)] => {
            store.record(&format!("{name}.value"), at, *value);
            1
        }
        many => {
            for (labels, value) in many {
                store.record(&format!("{name}.value{labels}"), at, *value);
            }
            let total: f64 = many.iter().map(|(_, v)| v).sum();
            store.record(&format!("{name}.value"), at, total);
            many.len() + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;
    use serde_json::json;

    #[test]
    fn reads_scalars_and_vectors_and_sums_several_series() {
        let store = MetricsStore::new();
        let last = |series: &str| {
            store
                .series_summary(series, &Selection::all())
                .map(|s| s.last)
        };
        let scalar = json!({"status":"success","data":{"resultType":"scalar","result":[1.5,"42"]}});
        assert_eq!(record("s", &samples(&scalar).unwrap(), &store), 1);
        assert_eq!(last("s.value"), Some(42.0));
        let vector = json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"b","instance":"x"},"value":[1.5,"1"]},
            {"metric":{"job":"a"},"value":[1.5,"2"]},
            {"metric":{"job":"c"},"value":[1.5,"NaN"]}]}});
        assert_eq!(record("v", &samples(&vector).unwrap(), &store), 3);
        assert_eq!(last("v.value"), Some(3.0));
        assert_eq!(last("v.value{instance=\"x\",job=\"b\"}"), Some(1.0));
        let empty = json!({"status":"success","data":{"resultType":"vector","result":[]}});
        assert_eq!(record("e", &samples(&empty).unwrap(), &store), 0);
        assert_eq!(last("e.value"), None, "no data is not zero");
        let error = json!({"status":"error","errorType":"bad_data","error":"parse error"});
        assert!(samples(&error).unwrap_err().contains("parse error"));
        let matrix = json!({"status":"success","data":{"resultType":"matrix","result":[]}});
        assert!(samples(&matrix).unwrap_err().contains("range"));
    }

    #[test]
    fn rejects_servers_it_cannot_query() {
        let t = Duration::from_secs(1);
        assert!(PromqlTelemetry::new("x", "https://prom:9090", "up", t).is_err());
        assert!(PromqlTelemetry::new("x", "not a url", "up", t).is_err());
        let ok =
            PromqlTelemetry::new("x", "http://127.0.0.1:9090/", "sum(rate(a[1m])) > 0", t).unwrap();
        assert_eq!(
            ok.url.to_string(),
            "http://127.0.0.1:9090/api/v1/query?query=sum%28rate%28a%5B1m%5D%29%29+%3E+0"
        );
    }
}
