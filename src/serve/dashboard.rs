//! The dashboard: server-rendered HTML over the same store the API reads, no build step and
//! no framework. `GET /ui` lists the runs (newest first) and the watches with their latest
//! predictions; `GET /ui/runs/{id}` is one run's page — the report stage's HTML page of its
//! stored record once it finished, and while it runs the report's charts of what it measured
//! so far and its events, with a few lines of plain script that append each new event from
//! the run's event stream, fetch the charts again (`/ui/runs/{id}/charts`) on each `sample`
//! and event, and reload the page when the stream ends. Same tokens as every GET route; every text is escaped.

use super::api_error::ApiError;
use super::app::App;
use super::store::{PredictionFilter, RunRow, StoredEvent};
use crate::report::{CHART_STYLE, RunRecord, html as report_html};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use std::fmt::Write;

/// How many runs the list shows, and how many predictions per watch.
const RUNS_LISTED: usize = 200;
const PREDICTIONS_PER_WATCH: usize = 5;

/// Nothing but the server itself: inline styles and the inline script, the event stream.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#111;background:#fff;max-width:1040px;margin:0 auto;padding:18px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:26px 0 8px;border-bottom:2px solid #222;padding-bottom:2px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}th,td{border-bottom:1px solid #d1d5db;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.status{font-weight:700}.passed{color:#166534}.failed,.error,.aborted,.interrupted{color:#991b1b}.running,.queued{color:#1d4ed8}
.meta{color:#374151}.meta span{margin-right:16px;white-space:nowrap}
ol.events{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;background:#f9fafb;padding:8px 8px 8px 48px}
pre{font-size:12px;background:#f9fafb;padding:8px;overflow-x:auto;white-space:pre-wrap}
nav{margin-bottom:10px;font-size:13px}
";

/// `GET /ui`: the runs and the watches.
pub async fn index(State(app): State<App>) -> Result<Response, ApiError> {
    let rows = app.store.runs(None, RUNS_LISTED)?;
    let (watches, runs): (Vec<&RunRow>, Vec<&RunRow>) =
        rows.iter().partition(|row| row.kind == "watch");
    let mut out = page_start("pfi: runs and watches", true);
    out.push_str("<h1>pfi serve</h1><p class=\"meta\">Runs and watches of this server, newest first; this page reloads every 10 s. The same data as JSON: <code>/v1/runs</code>, <code>/v1/predictions</code>.</p>\n");
    out.push_str("<section><h2>Runs</h2>");
    if runs.is_empty() {
        out.push_str("<p>No runs yet: submit one with <code>POST /v1/runs</code> or <code>pfi run --server</code>.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Run</th><th>Status</th><th>Experiment</th><th>Scenario</th><th>Started (UTC)</th><th class=\"num\">Seed</th><th class=\"num\">Max risk</th></tr></thead><tbody>\n");
        for run in &runs {
            let _ = writeln!(
                out,
                "<tr><td>{link}</td><td>{status}</td><td>{experiment}</td><td><code>{name}</code></td><td>{started}</td><td class=\"num\">{seed}</td><td class=\"num\">{risk}</td></tr>",
                link = run_link(&run.id),
                status = status(&run.status),
                experiment = experiment(run),
                name = escape(&run.name),
                started = escape(&started(run)),
                seed = run.seed,
                risk = run
                    .max_risk
                    .map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0)),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>\n<section><h2>Watches</h2>");
    if watches.is_empty() {
        out.push_str("<p>No watches: start one with <code>pfi serve --watch FILE</code> or <code>POST /v1/runs</code> with <code>\"watch\": true</code>.</p>");
    }
    for watch in &watches {
        let _ = write!(
            out,
            "<h3>{link} {status} {experiment} <code>{name}</code></h3><p class=\"meta\"><span>started {started}</span></p>",
            link = run_link(&watch.id),
            status = status(&watch.status),
            experiment = experiment(watch),
            name = escape(&watch.name),
            started = escape(&started(watch)),
        );
        let predictions = app.store.predictions(&PredictionFilter {
            run: Some(watch.id.clone()),
            limit: PREDICTIONS_PER_WATCH,
            ..PredictionFilter::default()
        })?;
        if predictions.is_empty() {
            out.push_str("<p>No predictions yet.</p>");
            continue;
        }
        out.push_str("<table><thead><tr><th>Kind</th><th>Resource</th><th class=\"num\">Confidence</th><th>Time (UTC)</th><th class=\"num\">Into the watch</th></tr></thead><tbody>\n");
        for p in &predictions {
            prediction_row(&mut out, watch, p);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>\n");
    page_end(&mut out);
    Ok(page(out))
}

/// `GET /ui/runs/{id}`: the report once finished, the live events while it runs.
pub async fn run(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Some(row) = app.store.run(&id)? else {
        return Err(ApiError::not_found(format!("no run `{id}`")));
    };
    if row.finished_ms.is_none() {
        let events = app.store.events(&id, None)?;
        let charts = match app.runner.live_view(&id) {
            Some(view) => tokio::task::spawn_blocking(move || view.charts())
                .await
                .map_err(ApiError::internal)?,
            None => String::new(),
        };
        return Ok(page(live_page(&row, &events, &charts)));
    }
    let record = row
        .record
        .clone()
        .and_then(|value| serde_json::from_value::<RunRecord>(value).ok());
    match record {
        Some(record) => {
            let html = tokio::task::spawn_blocking(move || report_html(&record))
                .await
                .map_err(ApiError::internal)?;
            let nav = format!(
                "<body>\n<nav><a href=\"/ui\">← all runs</a> · run <code>{}</code> ({}) · <a href=\"/v1/runs/{}\">JSON</a></nav>\n",
                escape(&row.id),
                escape(&row.status),
                escape(&row.id)
            );
            Ok(page(html.replacen("<body>\n", &nav, 1)))
        }
        None => {
            let events = app.store.events(&id, None)?;
            Ok(page(ended_without_record(&row, &events)))
        }
    }
}

/// `GET /ui/runs/{id}/charts`: the report's charts of a running run so far, as an HTML
/// fragment (the run's page fetches it again on each `sample` of the event stream).
pub async fn charts(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Some(row) = app.store.run(&id)? else {
        return Err(ApiError::not_found(format!("no run `{id}`")));
    };
    let html = match app.runner.live_view(&id) {
        Some(view) => tokio::task::spawn_blocking(move || view.charts())
            .await
            .map_err(ApiError::internal)?,
        None => format!(
            "<p class=\"meta\">The run ended ({}): its report has the final charts.</p>",
            escape(&row.status)
        ),
    };
    let mut response = page(html);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A run that is queued or running: its charts and events so far, then the stream's.
fn live_page(row: &RunRow, events: &[StoredEvent], charts: &str) -> String {
    let mut out = page_start(&format!("pfi: run {} ({})", row.id, row.status), false);
    run_header(&mut out, row);
    out.push_str("<p class=\"meta\" id=\"live\">Live: the charts and events follow the run as it goes; the report replaces this page when the run ends.</p>");
    // `data-refreshes`: how many times the script replaced the charts (a browser test reads
    // it from the page as the browser holds it).
    out.push_str("<div id=\"charts\" data-refreshes=\"0\">");
    out.push_str(charts);
    out.push_str("</div>\n");
    out.push_str("<section><h2>Events</h2><ol class=\"events\" id=\"events\">\n");
    for event in events {
        event_item(&mut out, event);
    }
    out.push_str("</ol></section>\n");
    let last = events.last().map_or(-1, |e| e.seq as i64);
    // The id goes into the script as a JSON string with `<` escaped, so no text can close
    // the script element.
    let id = serde_json::to_string(&row.id)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c");
    let _ = write!(
        out,
        "<script>\n(function () {{\n  var list = document.getElementById('events');\n  var note = document.getElementById('live');\n  var charts = document.getElementById('charts');\n  var last = {last};\n  var run = encodeURIComponent({id});\n  var busy = false, again = false;\n  function refresh() {{\n    if (busy) {{ again = true; return; }}\n    busy = true;\n    fetch('/ui/runs/' + run + '/charts', {{ credentials: 'same-origin', cache: 'no-store' }})\n      .then(function (r) {{ return r.ok ? r.text() : null; }})\n      .then(function (html) {{ if (html !== null) {{ charts.innerHTML = html; charts.setAttribute('data-refreshes', String(+charts.getAttribute('data-refreshes') + 1)); }} }})\n      .catch(function () {{}})\n      .then(function () {{ busy = false; if (again) {{ again = false; refresh(); }} }});\n  }}\n  var source = new EventSource('/v1/runs/' + run + '/events');\n  source.addEventListener('event', function (e) {{\n    var d = JSON.parse(e.data);\n    if (d.seq <= last) return;\n    last = d.seq;\n    var item = document.createElement('li');\n    item.value = d.seq + 1;\n    item.textContent = '+' + (d.at_ms / 1000).toFixed(3) + 's  ' + d.message;\n    list.appendChild(item);\n    refresh();\n  }});\n  source.addEventListener('sample', function (e) {{\n    var d = JSON.parse(e.data);\n    note.textContent = 'Live: ' + (d.elapsed_ms / 1000).toFixed(1) + 's of ' + (d.total_ms / 1000).toFixed(0) + 's, ' + d.phase + (d.active_faults.length ? ', active: ' + d.active_faults.join(', ') : ', no fault active') + '.';\n    refresh();\n  }});\n  source.addEventListener('end', function (e) {{\n    source.close();\n    note.textContent = 'The run ended (' + JSON.parse(e.data).status + '): loading its report.';\n    window.location.reload();\n  }});\n  source.onerror = function () {{\n    note.textContent = 'The event stream was interrupted; reconnecting.';\n  }};\n}})();\n</script>\n"
    );
    page_end(&mut out);
    out
}

/// A finished run without a report (it could not run, or its record is unreadable).
fn ended_without_record(row: &RunRow, events: &[StoredEvent]) -> String {
    let mut out = page_start(&format!("pfi: run {} ({})", row.id, row.status), false);
    run_header(&mut out, row);
    if let Some(error) = &row.error {
        let _ = write!(out, "<p><strong>Error:</strong> {}</p>", escape(error));
    }
    out.push_str("<p>This run has no report: it ended before it recorded anything.</p>");
    if let Some(summary) = &row.summary {
        let _ = write!(
            out,
            "<section><h2>Summary</h2><pre>{}</pre></section>",
            escape(summary)
        );
    }
    out.push_str("<section><h2>Events</h2><ol class=\"events\">\n");
    for event in events {
        event_item(&mut out, event);
    }
    out.push_str("</ol></section>\n");
    page_end(&mut out);
    out
}

fn run_header(out: &mut String, row: &RunRow) {
    let _ = write!(
        out,
        "<nav><a href=\"/ui\">← all runs</a> · <a href=\"/v1/runs/{id}\">JSON</a></nav><h1>{kind} <code>{id}</code> {status}</h1>\
         <p class=\"meta\"><span>experiment {experiment}</span><span>scenario <code>{name}</code></span><span>seed {seed}</span><span>started {started}</span></p>",
        kind = if row.kind == "watch" { "Watch" } else { "Run" },
        id = escape(&row.id),
        status = status(&row.status),
        experiment = experiment(row),
        name = escape(&row.name),
        seed = row.seed,
        started = escape(&started(row)),
    );
}

fn event_item(out: &mut String, event: &StoredEvent) {
    let _ = writeln!(
        out,
        "<li value=\"{n}\">+{at:.3}s  {message}</li>",
        n = event.seq + 1,
        at = event.at_ms / 1000.0,
        message = escape(&event.message),
    );
}

fn prediction_row(out: &mut String, watch: &RunRow, p: &Value) {
    let text = |key: &str| escape(p[key].as_str().unwrap_or("?"));
    let at_ms = p["at_ms"].as_f64().unwrap_or(0.0);
    let when = watch.started_ms.map_or_else(
        || "—".to_string(),
        |started| utc(started + at_ms.round() as i64),
    );
    let _ = writeln!(
        out,
        "<tr><td>{kind}</td><td><code>{resource}</code></td><td class=\"num\">{confidence:.0}%</td><td>{when}</td><td class=\"num\">+{into:.1}s</td></tr>",
        kind = text("kind"),
        resource = text("resource"),
        confidence = p["confidence"].as_f64().unwrap_or(0.0) * 100.0,
        when = escape(&when),
        into = at_ms / 1000.0,
    );
}

fn run_link(id: &str) -> String {
    format!(
        "<a href=\"/ui/runs/{id}\"><code>{id}</code></a>",
        id = escape(id)
    )
}

/// The experiment's name, or `—` for a run stored before the server kept it.
fn experiment(row: &RunRow) -> String {
    if row.experiment.is_empty() {
        "—".to_string()
    } else {
        format!("<strong>{}</strong>", escape(&row.experiment))
    }
}

fn status(status: &str) -> String {
    format!("<span class=\"status {s}\">{s}</span>", s = escape(status))
}

/// When the run started, or was submitted if it did not start yet.
fn started(row: &RunRow) -> String {
    match row.started_ms {
        Some(ms) => utc(ms),
        None => format!("queued {}", utc(row.submitted_ms)),
    }
}

/// `2026-12-07 16:05:56` of a Unix time in ms.
fn utc(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

fn escape(text: &str) -> String {
    crate::report::xml_escape(text)
}

fn page_start(title: &str, refresh: bool) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{}<title>{}</title><style>{CHART_STYLE}{STYLE}</style></head><body>\n",
        if refresh {
            "<meta http-equiv=\"refresh\" content=\"10\">"
        } else {
            ""
        },
        escape(title)
    )
}

fn page_end(out: &mut String) {
    let _ = writeln!(
        out,
        "<footer class=\"meta\">pfi {}</footer></body></html>",
        escape(env!("CARGO_PKG_VERSION"))
    );
}

/// An HTML response that may load nothing from anywhere but this server.
fn page(html: String) -> Response {
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_unix_milliseconds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_796_659_556_789), "2026-12-07 16:05:56");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
    }

    fn row(id: &str, status: &str) -> RunRow {
        RunRow {
            id: id.into(),
            name: "<b>s</b>.pfi".into(),
            experiment: "<i>exp</i>".into(),
            status: status.into(),
            kind: "run".into(),
            seed: 1,
            submitted_ms: 0,
            started_ms: Some(1000),
            finished_ms: None,
            exit_code: None,
            ledger_run_id: None,
            max_risk: None,
            error: None,
            footprint: Vec::new(),
            record: None,
            summary: None,
        }
    }

    #[test]
    fn the_live_page_escapes_events_and_follows_the_stream() {
        let events = [StoredEvent {
            seq: 0,
            at_ms: 12.5,
            message: "<script>alert(1)</script>".into(),
        }];
        let page = live_page(
            &row("r</script>1", "running"),
            &events,
            "<svg id=\"c\"></svg>",
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("&lt;b&gt;s&lt;/b&gt;.pfi"));
        assert!(page.contains("var run = encodeURIComponent(\"r\\u003c/script>1\")"));
        assert_eq!(page.matches("</script>").count(), 1, "{page}");
        assert!(page.contains("var last = 0;"));
        assert!(
            page.contains("<div id=\"charts\" data-refreshes=\"0\"><svg id=\"c\"></svg></div>")
        );
        assert!(page.contains("charts.setAttribute('data-refreshes'"));
        assert!(page.contains("source.addEventListener('sample'"));
    }
}
