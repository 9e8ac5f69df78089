//! `Store`: the service's SQLite database (`<state>/serve.db`): runs, their events, and the
//! predictions and mitigations they made. Opening it applies the pending schema migrations.

use super::migrations::MIGRATIONS;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;

/// A database that could not be opened, migrated, read or written.
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the service's database: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> StoreError {
        StoreError(err.to_string())
    }
}

/// One run as stored; `record` and `summary` only once it finished.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    /// The scenario's file name (or the name it was submitted with).
    pub name: String,
    /// The scenario's `experiment "NAME"` (empty for runs stored by an older server).
    pub experiment: String,
    /// `queued`, `running`, `passed`, `failed`, `aborted`, `error` or `interrupted`.
    pub status: String,
    /// `run`, or `watch`: telemetry, predictions and mitigations with no faults and no end.
    pub kind: String,
    pub seed: u64,
    pub submitted_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// What `pfi run` would have exited with.
    pub exit_code: Option<i64>,
    /// The id of the run's ledger (`<state>/runs/<id>/ledger.jsonl`).
    pub ledger_run_id: Option<String>,
    /// The largest risk of an observed scenario or a resource.
    pub max_risk: Option<f64>,
    pub error: Option<String>,
    /// The resources and ports the run touches (runs sharing one are queued).
    pub footprint: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// One stored event of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub seq: u64,
    pub at_ms: f64,
    pub message: String,
}

/// How a run ended, written in one transaction with its predictions and mitigations.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: String,
    pub exit_code: i64,
    pub ledger_run_id: Option<String>,
    pub max_risk: Option<f64>,
    pub error: Option<String>,
    pub record: Option<Value>,
    pub summary: Option<String>,
    pub predictions: Vec<StoredPrediction>,
    pub mitigations: Vec<StoredMitigation>,
}

#[derive(Debug, Clone)]
pub struct StoredPrediction {
    pub resource: String,
    pub kind: String,
    pub confidence: f64,
    pub at_ms: f64,
    pub happened: bool,
    pub record: Value,
}

#[derive(Debug, Clone)]
pub struct StoredMitigation {
    pub at_ms: f64,
    pub action: String,
    pub trigger: String,
    pub ok: bool,
    pub record: Value,
}

/// Which predictions to list.
#[derive(Debug, Clone, Default)]
pub struct PredictionFilter {
    pub run: Option<String>,
    pub resource: Option<String>,
    pub kind: Option<String>,
    pub min_confidence: Option<f64>,
    /// Only acknowledged (`true`) or only unacknowledged (`false`) predictions.
    pub acked: Option<bool>,
    pub limit: usize,
}

/// A prediction acknowledged: its run, and whether it already was (then nothing changed).
#[derive(Debug, Clone, PartialEq)]
pub struct Acked {
    pub run: String,
    pub kind: String,
    pub resource: String,
    pub already: bool,
}

pub struct Store {
    connection: Mutex<Connection>,
}

const RUN_COLUMNS: &str = "id, name, status, seed, submitted_ms, started_ms, finished_ms, \
     exit_code, ledger_run_id, max_risk, error, footprint, kind, experiment";

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        let store = Store {
            connection: Mutex::new(connection),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version the database is at.
    pub fn version(&self) -> Result<usize, StoreError> {
        let c = self.lock();
        let version: i64 = c.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        Ok(version.max(0) as usize)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let current = self.version()?;
        if current > MIGRATIONS.len() {
            return Err(StoreError(format!(
                "schema version {current} is newer than this pfi knows ({})",
                MIGRATIONS.len()
            )));
        }
        let mut c = self.lock();
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let tx = c.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = index + 1, "database migrated");
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn insert_run(&self, run: &RunRow) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO runs (id, name, status, seed, submitted_ms, footprint, kind, experiment) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.id,
                run.name,
                run.status,
                run.seed as i64,
                run.submitted_ms,
                serde_json::to_string(&run.footprint).unwrap_or_default(),
                run.kind,
                run.experiment
            ],
        )?;
        Ok(())
    }

    pub fn set_running(&self, id: &str, started_ms: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE runs SET status = 'running', started_ms = ?2 WHERE id = ?1",
            params![id, started_ms],
        )?;
        Ok(())
    }

    pub fn set_ledger(&self, id: &str, ledger_run_id: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE runs SET ledger_run_id = ?2 WHERE id = ?1",
            params![id, ledger_run_id],
        )?;
        Ok(())
    }

    pub fn append_event(&self, id: &str, event: &StoredEvent) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO events (run_id, seq, at_ms, message) VALUES (?1, ?2, ?3, ?4)",
            params![id, event.seq as i64, event.at_ms, event.message],
        )?;
        Ok(())
    }

    pub fn finish_run(&self, id: &str, at_ms: i64, end: &Finished) -> Result<(), StoreError> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "UPDATE runs SET status = ?2, finished_ms = ?3, exit_code = ?4, \
             ledger_run_id = COALESCE(?5, ledger_run_id), max_risk = ?6, error = ?7, \
             record = ?8, summary = ?9 WHERE id = ?1",
            params![
                id,
                end.status,
                at_ms,
                end.exit_code,
                end.ledger_run_id,
                end.max_risk,
                end.error,
                end.record.as_ref().map(Value::to_string),
                end.summary
            ],
        )?;
        for p in &end.predictions {
            tx.execute(
                "INSERT INTO predictions (run_id, resource, kind, confidence, at_ms, happened, \
                 record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    p.resource,
                    p.kind,
                    p.confidence,
                    p.at_ms,
                    p.happened,
                    p.record.to_string()
                ],
            )?;
        }
        for m in &end.mitigations {
            tx.execute(
                "INSERT INTO mitigations (run_id, at_ms, action, trigger, ok, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, m.at_ms, m.action, m.trigger, m.ok, m.record.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A prediction made by a watch, stored as it is made.
    pub fn insert_prediction(&self, id: &str, p: &StoredPrediction) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO predictions (run_id, resource, kind, confidence, at_ms, happened, record) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                p.resource,
                p.kind,
                p.confidence,
                p.at_ms,
                p.happened,
                p.record.to_string()
            ],
        )?;
        Ok(())
    }

    /// One run with its record and summary.
    pub fn run(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        let c = self.lock();
        let row = c
            .query_row(
                &format!("SELECT {RUN_COLUMNS}, record, summary FROM runs WHERE id = ?1"),
                params![id],
                |row| {
                    let mut run = run_row(row)?;
                    let record: Option<String> = row.get(14)?;
                    run.record = record.and_then(|text| serde_json::from_str(&text).ok());
                    run.summary = row.get(15)?;
                    Ok(run)
                },
            )
            .optional()?;
        Ok(row)
    }

    /// Runs, newest first, optionally only those with `status`.
    pub fn runs(&self, status: Option<&str>, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        let c = self.lock();
        let mut statement = c.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY submitted_ms DESC, id DESC LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![status, limit as i64], run_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Runs that were queued or running (left so by a server that died).
    pub fn unfinished(&self) -> Result<Vec<RunRow>, StoreError> {
        let c = self.lock();
        let mut statement = c.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('queued', 'running') ORDER BY id"
        ))?;
        let rows = statement.query_map([], run_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// A run's events after `after` (all with `None`), in order.
    pub fn events(&self, id: &str, after: Option<u64>) -> Result<Vec<StoredEvent>, StoreError> {
        let c = self.lock();
        let mut statement = c.prepare_cached(
            "SELECT seq, at_ms, message FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let after = after.map_or(-1, |seq| seq as i64);
        let rows = statement.query_map(params![id, after], |row| {
            Ok(StoredEvent {
                seq: row.get::<_, i64>(0)?.max(0) as u64,
                at_ms: row.get(1)?,
                message: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn predictions(&self, filter: &PredictionFilter) -> Result<Vec<Value>, StoreError> {
        let c = self.lock();
        let mut statement = c.prepare_cached(
            "SELECT id, run_id, happened, record, acked_ms, acked_by, ack_note FROM predictions \
             WHERE (?1 IS NULL OR run_id = ?1) AND (?2 IS NULL OR resource = ?2) \
             AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR confidence >= ?4) \
             AND (?6 IS NULL OR (acked_ms IS NOT NULL) = ?6) \
             ORDER BY id DESC LIMIT ?5",
        )?;
        let rows = statement.query_map(
            params![
                filter.run,
                filter.resource,
                filter.kind,
                filter.min_confidence,
                filter.limit as i64,
                filter.acked
            ],
            |row| {
                let record: String = row.get(3)?;
                let mut value: Value = serde_json::from_str(&record).unwrap_or(Value::Null);
                if let Some(object) = value.as_object_mut() {
                    object.insert("id".into(), Value::from(row.get::<_, i64>(0)?));
                    object.insert("run".into(), Value::from(row.get::<_, String>(1)?));
                    object.insert("happened".into(), Value::from(row.get::<_, bool>(2)?));
                    let acked = match row.get::<_, Option<i64>>(4)? {
                        Some(at) => serde_json::json!({
                            "at_ms": at,
                            "by": row.get::<_, Option<String>>(5)?,
                            "note": row.get::<_, Option<String>>(6)?,
                        }),
                        None => Value::Null,
                    };
                    object.insert("acked".into(), acked);
                }
                Ok(value)
            },
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Acknowledges prediction `id` (the first acknowledgement stands); `None`: no such
    /// prediction.
    pub fn ack_prediction(
        &self,
        id: i64,
        at_ms: i64,
        by: &str,
        note: Option<&str>,
    ) -> Result<Option<Acked>, StoreError> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let found = tx
            .query_row(
                "SELECT run_id, kind, resource, acked_ms IS NOT NULL FROM predictions WHERE id = ?1",
                params![id],
                |row| {
                    Ok(Acked {
                        run: row.get(0)?,
                        kind: row.get(1)?,
                        resource: row.get(2)?,
                        already: row.get(3)?,
                    })
                },
            )
            .optional()?;
        if let Some(acked) = &found {
            if !acked.already {
                tx.execute(
                    "UPDATE predictions SET acked_ms = ?2, acked_by = ?3, ack_note = ?4 WHERE id = ?1",
                    params![id, at_ms, by, note],
                )?;
            }
        }
        tx.commit()?;
        Ok(found)
    }

    pub fn mitigations(&self, run: Option<&str>, limit: usize) -> Result<Vec<Value>, StoreError> {
        let c = self.lock();
        let mut statement = c.prepare_cached(
            "SELECT id, run_id, record FROM mitigations WHERE (?1 IS NULL OR run_id = ?1) \
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![run, limit as i64], |row| {
            let record: String = row.get(2)?;
            let mut value: Value = serde_json::from_str(&record).unwrap_or(Value::Null);
            if let Some(object) = value.as_object_mut() {
                object.insert("id".into(), Value::from(row.get::<_, i64>(0)?));
                object.insert("run".into(), Value::from(row.get::<_, String>(1)?));
            }
            Ok(value)
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

fn run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let footprint: String = row.get(11)?;
    Ok(RunRow {
        id: row.get(0)?,
        name: row.get(1)?,
        status: row.get(2)?,
        seed: row.get::<_, i64>(3)? as u64,
        submitted_ms: row.get(4)?,
        started_ms: row.get(5)?,
        finished_ms: row.get(6)?,
        exit_code: row.get(7)?,
        ledger_run_id: row.get(8)?,
        max_risk: row.get(9)?,
        error: row.get(10)?,
        footprint: serde_json::from_str(&footprint).unwrap_or_default(),
        kind: row.get(12)?,
        experiment: row.get(13)?,
        record: None,
        summary: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> RunRow {
        RunRow {
            id: id.into(),
            name: "s.pfi".into(),
            experiment: "stored".into(),
            status: "queued".into(),
            kind: "run".into(),
            seed: 7,
            submitted_ms: 1,
            started_ms: None,
            finished_ms: None,
            exit_code: None,
            ledger_run_id: None,
            max_risk: None,
            error: None,
            footprint: vec!["port:8080".into()],
            record: None,
            summary: None,
        }
    }

    #[test]
    fn migrates_once_and_keeps_runs_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.db");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.version().unwrap(), MIGRATIONS.len());
            store.insert_run(&row("a")).unwrap();
            store
                .append_event(
                    "a",
                    &StoredEvent {
                        seq: 0,
                        at_ms: 1.5,
                        message: "hello".into(),
                    },
                )
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.version().unwrap(), MIGRATIONS.len());
        let run = store.run("a").unwrap().unwrap();
        assert_eq!(run.footprint, vec!["port:8080".to_string()]);
        assert_eq!(store.unfinished().unwrap().len(), 1);
        assert_eq!(store.events("a", None).unwrap()[0].message, "hello");
        assert!(store.events("a", Some(0)).unwrap().is_empty());
    }

    #[test]
    fn a_version_1_database_is_migrated_keeping_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO runs (id, name, status, seed, submitted_ms, footprint) \
                 VALUES ('old', 'a.pfi', 'passed', 1, 1, '[]')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.version().unwrap(), MIGRATIONS.len());
        let run = store.run("old").unwrap().unwrap();
        assert_eq!((run.status.as_str(), run.kind.as_str()), ("passed", "run"));
        assert_eq!(run.experiment, "");
    }

    #[test]
    fn a_finished_run_keeps_its_record_predictions_and_mitigations() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("serve.db")).unwrap();
        store.insert_run(&row("b")).unwrap();
        let end = Finished {
            status: "passed".into(),
            exit_code: 0,
            ledger_run_id: Some("L".into()),
            max_risk: Some(0.01),
            error: None,
            record: Some(serde_json::json!({"ending": "completed"})),
            summary: Some("run L".into()),
            predictions: vec![StoredPrediction {
                resource: "api".into(),
                kind: "memory_leak".into(),
                confidence: 0.9,
                at_ms: 10.0,
                happened: true,
                record: serde_json::json!({"kind": "memory_leak"}),
            }],
            mitigations: vec![StoredMitigation {
                at_ms: 11.0,
                action: "restart api".into(),
                trigger: "predicted".into(),
                ok: true,
                record: serde_json::json!({"action": "restart api"}),
            }],
        };
        store.finish_run("b", 5, &end).unwrap();
        let run = store.run("b").unwrap().unwrap();
        assert_eq!(run.status, "passed");
        assert_eq!(run.record.unwrap()["ending"], "completed");
        assert!(store.unfinished().unwrap().is_empty());
        let filter = PredictionFilter {
            min_confidence: Some(0.95),
            limit: 10,
            ..PredictionFilter::default()
        };
        assert!(store.predictions(&filter).unwrap().is_empty());
        let filter = PredictionFilter {
            kind: Some("memory_leak".into()),
            limit: 10,
            ..PredictionFilter::default()
        };
        assert_eq!(store.predictions(&filter).unwrap()[0]["run"], "b");
        assert_eq!(store.mitigations(Some("b"), 10).unwrap().len(), 1);
    }
}
