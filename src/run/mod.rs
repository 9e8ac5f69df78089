//! The interpreter: runs a plan against real processes, containers and proxied links. So far:
//! the ledger that makes every applied fault undoable after a crash (`pfi recover`).

pub mod ledger;
