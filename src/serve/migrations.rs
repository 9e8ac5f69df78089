//! The store's versioned schema: migration N takes the database from `user_version` N-1 to N.
//! Append new migrations; never edit one that has shipped.

/// Every migration, in order; the database's `PRAGMA user_version` counts those applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, their events, and the predictions and mitigations they made.
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        seed INTEGER NOT NULL,
        submitted_ms INTEGER NOT NULL,
        started_ms INTEGER,
        finished_ms INTEGER,
        exit_code INTEGER,
        ledger_run_id TEXT,
        max_risk REAL,
        error TEXT,
        footprint TEXT NOT NULL,
        record TEXT,
        summary TEXT
    );
    CREATE INDEX runs_by_status ON runs (status);
    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs (id),
        seq INTEGER NOT NULL,
        at_ms REAL NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE predictions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id),
        resource TEXT NOT NULL,
        kind TEXT NOT NULL,
        confidence REAL NOT NULL,
        at_ms REAL NOT NULL,
        happened INTEGER NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE mitigations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id),
        at_ms REAL NOT NULL,
        action TEXT NOT NULL,
        trigger TEXT NOT NULL,
        ok INTEGER NOT NULL,
        record TEXT NOT NULL
    );",
    // 2: watches (runs without faults and without an end) beside runs.
    "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'run';",
    // 3: the experiment's name (the `experiment "NAME"` of the scenario) beside the file's.
    "ALTER TABLE runs ADD COLUMN experiment TEXT NOT NULL DEFAULT '';",
    // 4: acknowledging a prediction: when, by whom (the token's name), with what note.
    "ALTER TABLE predictions ADD COLUMN acked_ms INTEGER;
    ALTER TABLE predictions ADD COLUMN acked_by TEXT;
    ALTER TABLE predictions ADD COLUMN ack_note TEXT;",
];
