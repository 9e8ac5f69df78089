//! The one place a rhai engine is built.
//!
//! `Engine::new_raw()` plus only the arithmetic, logic, string, array, map, math and
//! iterator packages; no module resolver (so `import` fails) and `eval` disabled; limits on
//! operations, call depth, expression depth, variables, functions, string, array and map
//! sizes; an `on_progress` wall-clock deadline, so an infinite loop stops in time even when
//! its operations are cheap; `print` and `debug` go to tracing. Scripts see the world only
//! through the capability API of a [`Host`]: `metric(name)`, `predicted(kind)`, `log(text)`
//! and this run's mitigation actions (`restart`, `activate`, `shift`, `alert`, `scale`).

use super::host::Host;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{AST, Dynamic, Engine, EvalAltResult, Position, Scope};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Resource limits of a script run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_variables: usize,
    pub max_functions: usize,
    /// Wall-clock budget of one run.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_operations: 5_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_variables: 256,
            max_functions: 64,
            deadline: Duration::from_millis(500),
        }
    }
}

/// Why a script did not run to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub script: PathBuf,
    /// One-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.script.display(),
                self.line,
                self.column,
                self.message
            )
        } else {
            write!(f, "{}: {}", self.script.display(), self.message)
        }
    }
}

impl std::error::Error for ScriptError {}

fn position(p: Position) -> (usize, usize) {
    (p.line().unwrap_or(0), p.position().unwrap_or(0))
}

/// The hardened engine. `deadline_ns` is the wall-clock deadline of the current run, in
/// nanoseconds since `epoch` (0 = none); `host` provides the capabilities.
fn build(
    limits: &Limits,
    epoch: Instant,
    deadline_ns: Arc<AtomicU64>,
    host: Option<Arc<dyn Host>>,
) -> Engine {
    let mut engine = Engine::new_raw();
    for module in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(module);
    }
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(limits.max_variables)
        .set_max_functions(limits.max_functions)
        .set_max_modules(0);
    engine.on_progress(move |_| {
        let deadline = deadline_ns.load(Ordering::Relaxed);
        (deadline != 0 && epoch.elapsed().as_nanos() as u64 > deadline)
            .then(|| Dynamic::from("wall-clock deadline exceeded"))
    });
    engine.on_print(|text| tracing::info!(target: "pfi::script", "{text}"));
    engine.on_debug(|text, source, pos| {
        tracing::debug!(target: "pfi::script", "{}{pos:?}: {text}", source.unwrap_or(""))
    });
    if let Some(host) = host {
        let h = host.clone();
        engine.register_fn(
            "metric",
            move |name: &str| -> Result<f64, Box<EvalAltResult>> {
                h.metric(name)
                    .ok_or_else(|| format!("no value for metric `{name}` yet").into())
            },
        );
        let h = host.clone();
        engine.register_fn("predicted", move |kind: &str| -> f64 {
            h.prediction(kind).unwrap_or(0.0)
        });
        let h = host.clone();
        engine.register_fn("log", move |text: &str| h.log(text));
        for action in ["restart", "activate", "alert"] {
            let h = host.clone();
            engine.register_fn(
                action,
                move |target: &str| -> Result<String, Box<EvalAltResult>> {
                    h.act(action, &[target.to_string()]).map_err(Into::into)
                },
            );
        }
        let h = host.clone();
        engine.register_fn(
            "shift",
            move |link: &str, to: &str| -> Result<String, Box<EvalAltResult>> {
                h.act("shift", &[link.to_string(), to.to_string()])
                    .map_err(Into::into)
            },
        );
        let h = host;
        engine.register_fn(
            "scale",
            move |resource: &str, what: &str, amount: f64| -> Result<String, Box<EvalAltResult>> {
                h.act(
                    "scale",
                    &[resource.to_string(), what.to_string(), amount.to_string()],
                )
                .map_err(Into::into)
            },
        );
    }
    engine
}

/// Compiles the script at `path` with the sandbox's rules: a syntax error (or a use of
/// `eval` or `import`) comes back with the script's line and column. Returns its source.
pub fn compile_check(path: &Path) -> Result<String, ScriptError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScriptError {
        script: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    let sandbox = Sandbox::new(Limits::default(), None);
    sandbox.compile(path, &text).map(|_| text)
}

/// A hardened rhai engine with its host.
pub struct Sandbox {
    engine: Engine,
    limits: Limits,
    epoch: Instant,
    deadline_ns: Arc<AtomicU64>,
}

impl Sandbox {
    pub fn new(limits: Limits, host: Option<Arc<dyn Host>>) -> Sandbox {
        let epoch = Instant::now();
        let deadline_ns = Arc::new(AtomicU64::new(0));
        Sandbox {
            engine: build(&limits, epoch, deadline_ns.clone(), host),
            limits,
            epoch,
            deadline_ns,
        }
    }

    pub fn compile(&self, path: &Path, text: &str) -> Result<AST, ScriptError> {
        self.engine.compile(text).map_err(|e| {
            let (line, column) = position(e.position());
            ScriptError {
                script: path.to_path_buf(),
                line,
                column,
                message: e.err_type().to_string(),
            }
        })
    }

    /// Runs `text` (named `path` in errors) with `vars` in scope, within the limits and the
    /// deadline; returns what the script evaluates to, as text.
    pub fn run(
        &self,
        path: &Path,
        text: &str,
        vars: &[(&str, Dynamic)],
    ) -> Result<String, ScriptError> {
        let ast = self.compile(path, text)?;
        let mut scope = Scope::new();
        for (name, value) in vars {
            scope.push_dynamic(name.to_string(), value.clone());
        }
        let deadline = self.epoch.elapsed() + self.limits.deadline;
        self.deadline_ns
            .store(deadline.as_nanos() as u64, Ordering::Relaxed);
        let result = self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast);
        self.deadline_ns.store(0, Ordering::Relaxed);
        match result {
            Ok(value) if value.is_unit() => Ok(String::new()),
            Ok(value) => Ok(value.to_string()),
            Err(err) => {
                let (line, column) = position(err.position());
                let message = match *err {
                    EvalAltResult::ErrorTerminated(_, _) => format!(
                        "stopped: ran past its {}ms wall-clock deadline",
                        self.limits.deadline.as_millis()
                    ),
                    EvalAltResult::ErrorTooManyOperations(_) => format!(
                        "stopped: more than {} operations",
                        self.limits.max_operations
                    ),
                    EvalAltResult::ErrorDataTooLarge(what, _) => {
                        format!("stopped: {what} grew past its limit (memory)")
                    }
                    other => other.to_string(),
                };
                Err(ScriptError {
                    script: path.to_path_buf(),
                    line,
                    column,
                    message,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mitigate::host::StoreHost;
    use crate::monitor::MetricsStore;
    use std::sync::Mutex;

    fn run(text: &str, limits: Limits) -> (Result<String, ScriptError>, Duration) {
        let sandbox = Sandbox::new(limits, None);
        let started = Instant::now();
        let result = sandbox.run(Path::new("t.rhai"), text, &[]);
        (result, started.elapsed())
    }

    #[test]
    fn an_infinite_loop_stops_at_the_deadline() {
        // No operation limit: only the wall clock can stop it.
        let limits = Limits {
            max_operations: 0,
            deadline: Duration::from_millis(200),
            ..Limits::default()
        };
        let (result, took) = run("let x = 0; loop { x += 1; }", limits);
        let err = result.unwrap_err();
        assert!(err.message.contains("deadline"), "{err}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert_eq!(err.line, 1, "{err}");
    }

    #[test]
    fn the_operation_limit_stops_a_busy_loop() {
        let (result, took) = run("loop {}", Limits::default());
        let err = result.unwrap_err();
        assert!(
            err.message.contains("operations") || err.message.contains("deadline"),
            "{err}"
        );
        assert!(took < Duration::from_secs(1), "{took:?}");
    }

    #[test]
    fn memory_bombs_stop_at_the_size_limits() {
        for bomb in [
            "let s = \"x\"; loop { s += s; }",
            "let a = [1]; loop { a += a; }",
            "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
        ] {
            let (result, took) = run(bomb, Limits::default());
            let err = result.unwrap_err();
            // The size limit, or in a slow (debug) build possibly the deadline first.
            assert!(
                err.message.contains("limit") || err.message.contains("deadline"),
                "{bomb}: {err}"
            );
            assert!(took < Duration::from_secs(1), "{bomb}: {took:?}");
        }
    }

    #[test]
    fn no_file_access_no_modules_no_eval() {
        let (result, _) = run("open(\"/etc/passwd\")", Limits::default());
        assert!(result.unwrap_err().message.contains("not found"));
        let (result, _) = run("import \"std\" as s; 1", Limits::default());
        assert!(result.is_err());
        let sandbox = Sandbox::new(Limits::default(), None);
        let err = sandbox
            .compile(Path::new("e.rhai"), "let x = 1;\nlet y = eval(\"x\");")
            .unwrap_err();
        assert_eq!((err.line, err.column), (2, 9), "{err}");
    }

    #[test]
    fn a_syntax_error_has_the_script_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.rhai");
        std::fs::write(&path, "let a = 1;\nlet b = (a + ;\n").unwrap();
        let err = compile_check(&path).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2:", path.display()))
        );
    }

    #[test]
    fn scripts_read_metrics_and_call_actions_through_the_host() {
        let store = MetricsStore::new();
        store.record_now("checkout.error_rate", 0.2);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let host = StoreHost {
            store,
            window: Duration::from_secs(10),
            predictions: Arc::new(Mutex::new(Vec::new())),
            actions: Arc::new(move |action: &str, args: &[String]| {
                seen.lock()
                    .unwrap()
                    .push(format!("{action} {}", args.join(" ")));
                Ok(format!("{action} done"))
            }),
            logged: Arc::new(Mutex::new(Vec::new())),
        };
        let logged = host.logged.clone();
        let sandbox = Sandbox::new(Limits::default(), Some(Arc::new(host)));
        let text = include_str!("../../examples/remediate/restart.rhai");
        let out = sandbox.run(Path::new("restart.rhai"), text, &[]).unwrap();
        assert_eq!(out, "restart done");
        assert_eq!(*calls.lock().unwrap(), vec!["restart api"]);
        assert!(logged.lock().unwrap()[0].contains("above 5%"));
        let err = sandbox
            .run(Path::new("m.rhai"), "metric(\"nope.p99\")", &[])
            .unwrap_err();
        assert!(err.message.contains("no value for metric"), "{err}");
    }
}
