//! `telemetry NAME: prometheus "http://…/metrics"`: scrapes a user's endpoint and records each
//! sample as a series of the store.
//!
//! - A sample without labels is recorded as `<name>.<metric>`.
//! - A sample with labels is recorded as `<name>.<metric>{a="x",b="y"}` (labels in name
//!   order), and the family's labelled samples are also summed into `<name>.<metric>` when the
//!   page has no unlabelled sample of that name, so `app.http_requests_total` reads the total
//!   over every route. Samples with an `le` (histogram bucket) or `quantile` (summary) label
//!   are never summed: their sum means nothing.
//! - Values are recorded at the time of the scrape, on the run's clock; a sample's own
//!   timestamp is parsed but not used (pfi compares values as of when it saw them). `NaN` and
//!   infinite values are not recorded (the store keeps finite numbers only).
//! - A failed scrape (connection refused, non-2xx status, timeout) records nothing and is
//!   logged; the next scrape tries again.

use super::metrics_store::MetricsStore;
use super::prometheus_text::{PromPage, parse};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::time::Duration;

/// Pages larger than this are refused.
const MAX_PAGE: usize = 16 << 20;

/// One scrape target.
pub struct PrometheusTelemetry {
    name: String,
    url: Uri,
    timeout: Duration,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl PrometheusTelemetry {
    /// Checks the URL now, so a bad one is reported before the run.
    pub fn new(name: impl Into<String>, url: &str, timeout: Duration) -> Result<Self, String> {
        let url: Uri = url
            .parse()
            .map_err(|err| format!("`{url}` is not a valid URL: {err}"))?;
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err(format!("`{url}` needs an http:// scheme and a host"));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1)
            .build(connector);
        Ok(PrometheusTelemetry {
            name: name.into(),
            url,
            timeout,
            client,
        })
    }

    /// Scrapes once and records every sample; the number of series recorded.
    pub async fn scrape(&self, store: &MetricsStore) -> Result<usize, String> {
        let page = tokio::time::timeout(self.timeout, self.fetch())
            .await
            .map_err(|_| format!("no answer from {} within {:?}", self.url, self.timeout))??;
        let page = parse(&page);
        for (line, err) in &page.errors {
            tracing::debug!(telemetry = %self.name, line, "unparsable metrics line: {err}");
        }
        Ok(record(&self.name, &page, store))
    }

    async fn fetch(&self) -> Result<String, String> {
        let request = Request::get(self.url.clone())
            .header(hyper::header::USER_AGENT, "pfi-telemetry")
            .header(hyper::header::ACCEPT, "text/plain;version=0.0.4")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("cannot build the request: {err}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|err| format!("{}: {err}", self.url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{} answered {status}", self.url));
        }
        let body = Limited::new(response.into_body(), MAX_PAGE)
            .collect()
            .await
            .map_err(|err| format!("{}: reading the page: {err}", self.url))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| format!("{}: the page is not UTF-8", self.url))
    }

    /// Scrapes every `interval` until `shutdown` completes.
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
                    if let Err(err) = self.scrape(&store).await {
                        tracing::warn!(telemetry = %self.name, "scrape failed: {err}");
                    }
                }
            }
        }
    }
}

/// Records a parsed page under `name`; returns the number of series written.
pub fn record(name: &str, page: &PromPage, store: &MetricsStore) -> usize {
    let at = store.now();
    let mut written = 0;
    let mut record = |series: String, value: f64| {
        if value.is_finite() {
            store.record(&series, at, value);
            written += 1;
        }
    };
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut plain: Vec<&str> = Vec::new();
    for sample in &page.samples {
        if sample.labels.is_empty() {
            plain.push(&sample.name);
            record(format!("{name}.{}", sample.name), sample.value);
            continue;
        }
        record(format!("{name}.{}", sample.key()), sample.value);
        if !sample
            .labels
            .iter()
            .any(|(label, _)| label == "le" || label == "quantile")
        {
            *sums.entry(&sample.name).or_insert(0.0) += sample.value;
        }
    }
    for (metric, total) in sums {
        if !plain.contains(&metric) {
            record(format!("{name}.{metric}"), total);
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;

    #[test]
    fn records_plain_labelled_and_summed_series() {
        let page = parse(
            "# TYPE req counter\nreq{route=\"/a\"} 3\nreq{route=\"/b\"} 4\n\
             rss 100\nlat_bucket{le=\"0.1\"} 2\nlat_bucket{le=\"+Inf\"} 5\nbad NaN\n",
        );
        let store = MetricsStore::new();
        assert_eq!(record("app", &page, &store), 6);
        let last = |series: &str| {
            store
                .series_summary(series, &Selection::all())
                .map(|s| s.last)
        };
        assert_eq!(last("app.req"), Some(7.0));
        assert_eq!(last("app.req{route=\"/b\"}"), Some(4.0));
        assert_eq!(last("app.rss"), Some(100.0));
        assert_eq!(last("app.lat_bucket{le=\"+Inf\"}"), Some(5.0));
        assert_eq!(last("app.lat_bucket"), None, "buckets are not summed");
        assert_eq!(last("app.bad"), None);
    }

    #[test]
    fn rejects_urls_it_cannot_scrape() {
        let timeout = Duration::from_secs(1);
        assert!(PrometheusTelemetry::new("x", "https://a/metrics", timeout).is_err());
        assert!(PrometheusTelemetry::new("x", "not a url", timeout).is_err());
        assert!(PrometheusTelemetry::new("x", "http://127.0.0.1:9/metrics", timeout).is_ok());
    }
}
