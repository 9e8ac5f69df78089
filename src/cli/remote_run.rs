//! The remote half of `pfi run --server` and `pfi gate --server`: submit the scenario to a
//! `pfi serve` server, stream its events, print its summary and take its exit code.

use super::exit;
use crate::report::log_line;
use crate::serve::client::{Client, SseMessage};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

/// Submits `file` to the server, prints its events as they happen (stderr) and its summary
/// (stdout); returns the exit code a local run would have had, and the run's record. Ctrl-C
/// aborts the run on the server (everything reverted) and waits for its end.
pub(super) fn run_remote(
    server: &str,
    file: &Path,
    seed: Option<u64>,
    profile: Option<usize>,
) -> (ExitCode, Option<Value>) {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", file.display());
            return (ExitCode::from(exit::BAD_INPUT), None);
        }
    };
    let client = match Client::new(server, std::env::var("PFI_TOKEN").ok()) {
        Ok(client) => client,
        Err(err) => {
            eprintln!("error: {err}");
            return (ExitCode::from(exit::BAD_INPUT), None);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return (ExitCode::from(exit::ENVIRONMENT), None);
        }
    };
    let name = file.file_name().map_or_else(
        || "scenario.pfi".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut request = json!({ "scenario": text, "name": name });
    if let Some(seed) = seed {
        request["seed"] = json!(seed);
    }
    if let Some(n) = profile {
        request["profile"] = json!(format!("top:{n}"));
    }
    runtime.block_on(async {
        let (status, body) = match client.json("POST", "/v1/runs", Some(&request)).await {
            Ok(answer) => answer,
            Err(err) => {
                eprintln!("error: {err}");
                return (ExitCode::from(exit::ENVIRONMENT), None);
            }
        };
        if status != 202 {
            return (refused(status, &body), None);
        }
        let Some(id) = body["id"].as_str().map(str::to_string) else {
            eprintln!("error: the server accepted the run but gave no id: {body}");
            return (ExitCode::from(exit::ENVIRONMENT), None);
        };
        eprintln!(
            "run {id} on {server}: {}",
            body["status"].as_str().unwrap_or("submitted")
        );
        let path = format!("/v1/runs/{id}/events");
        let events = client.events(&path, |message| print_message(&message));
        let aborted = async {
            let reason = super::shutdown_signal::shutdown_signal().await;
            eprintln!("{reason} received: asking the server to abort run {id}");
            if let Err(err) = client
                .json("POST", &format!("/v1/runs/{id}/abort"), None)
                .await
            {
                eprintln!("error: {err}");
            }
            std::future::pending::<()>().await;
        };
        let streamed = tokio::select! {
            streamed = events => streamed,
            () = aborted => Ok(()),
        };
        if let Err(err) = streamed {
            eprintln!("error: {err}");
            return (ExitCode::from(exit::ENVIRONMENT), None);
        }
        let run = match client.json("GET", &format!("/v1/runs/{id}"), None).await {
            Ok((200, run)) => run,
            Ok((status, body)) => return (refused(status, &body), None),
            Err(err) => {
                eprintln!("error: {err}");
                return (ExitCode::from(exit::ENVIRONMENT), None);
            }
        };
        if let Some(summary) = run["summary"].as_str() {
            print!("{summary}");
        }
        let code = run["exit_code"]
            .as_u64()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(exit::ENVIRONMENT);
        let record = run.get("record").filter(|r| !r.is_null()).cloned();
        (ExitCode::from(code), record)
    })
}

/// Prints an event line; false at the end of the stream.
fn print_message(message: &SseMessage) -> bool {
    let data: Value = serde_json::from_str(&message.data).unwrap_or(Value::Null);
    match message.event.as_str() {
        "event" => {
            // The server sends each event as the log line it stores, printed at its time.
            let at_ms = data["at_ms"].as_f64().unwrap_or(0.0);
            eprintln!(
                "{}",
                log_line(at_ms, &data["message"].as_str().unwrap_or(""))
            );
            true
        }
        "end" => false,
        _ => true,
    }
}

/// Prints the server's error (with the scenario's diagnostics) and picks the exit code.
fn refused(status: u16, body: &Value) -> ExitCode {
    let error = &body["error"];
    eprintln!(
        "error: the server answered {status}: {}",
        error["message"].as_str().unwrap_or("(no message)")
    );
    for d in error["diagnostics"].as_array().into_iter().flatten() {
        match d.as_str() {
            Some(text) => eprintln!("  {text}"),
            None => eprintln!(
                "{}:{}:{}: {}[{}]: {}",
                d["location"]["file"].as_str().unwrap_or("?"),
                d["location"]["line"],
                d["location"]["column"],
                d["severity"].as_str().unwrap_or("error"),
                d["code"].as_str().unwrap_or(""),
                d["message"].as_str().unwrap_or("")
            ),
        }
    }
    match status {
        400..=499 => ExitCode::from(exit::BAD_INPUT),
        _ => ExitCode::from(exit::ENVIRONMENT),
    }
}
