//! The mangler: every fixture, scenario and standard module, damaged in seeded random ways
//! (byte flips, invalid UTF-8, truncations, duplicated and deleted blocks, stray brackets and
//! quotes), through the library's check, render and format functions in-process. None of the
//! cases may panic; every error must have a place. `PFI_MANGLER_CASES` and `PFI_MANGLER_SEED`
//! change the number of cases (default 100,000) and the seed.

use pfi::diagnostic::{Code, FileId, SourceMap, render_human, render_json};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const DEFAULT_CASES: usize = 100_000;
const DEFAULT_SEED: u64 = 24;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in [
        "experiments",
        "stdlib/std",
        "tests/fixtures/ok",
        "tests/fixtures/errors",
        "tests/fixtures/modules",
    ] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pfi"))
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

/// Byte sequences that are not UTF-8: a lone continuation byte, bytes that never occur, a
/// truncated two-, three- and four-byte character, an overlong encoding, a surrogate.
const INVALID: &[&[u8]] = &[
    b"\x80",
    b"\xff",
    b"\xfe",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
];

/// Valid text that tends to matter: multi-byte characters (so later damage lands inside
/// one), a byte-order mark, and the language's own punctuation.
const TOKENS: &[&str] = &[
    "é",
    "𝄞",
    "\u{FEFF}",
    "\u{200B}",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "//",
    "/*",
    "*/",
    ":",
    ",",
    ";",
    "->",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "%",
    ".",
    "1e999",
    "-",
    "abort",
    "experiment",
    "fault",
    "import \"std/process\"\n",
    "}\n}\n",
];

/// One random change to `bytes`.
fn mangle_once(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    let at = |rng: &mut ChaCha8Rng| rng.random_range(0..=len);
    match rng.random_range(0..9) {
        // Flip one bit.
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            bytes[i] ^= 1 << rng.random_range(0..8);
        }
        // Replace one byte with any byte.
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            bytes[i] = rng.random();
        }
        // Insert invalid UTF-8.
        2 => {
            let seq = INVALID[rng.random_range(0..INVALID.len())];
            let i = at(rng);
            bytes.splice(i..i, seq.iter().copied());
        }
        // Insert a token, possibly inside a multi-byte character.
        3 => {
            let token = TOKENS[rng.random_range(0..TOKENS.len())];
            let i = at(rng);
            bytes.splice(i..i, token.bytes());
        }
        // Truncate.
        4 => bytes.truncate(at(rng)),
        // Duplicate a block somewhere else.
        5 if len > 0 => {
            let a = rng.random_range(0..len);
            let b = (a + rng.random_range(1..200)).min(len);
            let block = bytes[a..b].to_vec();
            let i = at(rng);
            bytes.splice(i..i, block);
        }
        // Delete a block.
        6 if len > 0 => {
            let a = rng.random_range(0..len);
            let b = (a + rng.random_range(1..60)).min(len);
            bytes.drain(a..b);
        }
        // Duplicate whole lines (a declaration twice, a block opened twice).
        7 => {
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            let every = rng.random_range(2..9);
            let mut out = Vec::with_capacity(len * 2);
            for (n, line) in lines.iter().enumerate() {
                out.extend_from_slice(line);
                out.push(b'\n');
                if n % every == 0 {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
            *bytes = out;
        }
        // Swap two bytes.
        _ if len > 1 => {
            let a = rng.random_range(0..len);
            let b = rng.random_range(0..len);
            bytes.swap(a, b);
        }
        _ => bytes.push(rng.random()),
    }
}

/// What one case exercises: `check` as `pfi check` reads a file, every diagnostic rendered as
/// JSON and for people (the first few, with colour on every eighth case), and `fmt` on a text
/// that parses (twice: it must be idempotent).
fn exercise(case: usize, path: &Path, bytes: &[u8]) -> Result<(), String> {
    let checked = pfi::check::check_bytes(path, bytes);
    let mut parses = true;
    for (i, d) in checked.diagnostics.iter().enumerate() {
        parses &= !matches!(d.code, Code::Syntax | Code::Unreadable | Code::TooLarge);
        if d.is_error() && d.primary_span().is_none() && d.code != Code::Unreadable {
            return Err(format!("an error without a place: {d:?}"));
        }
        let json: serde_json::Value = serde_json::from_str(&render_json(d, &checked.sources))
            .map_err(|e| format!("not JSON: {e}"))?;
        if d.primary_span().is_some() && json["location"]["line"].as_u64().unwrap_or(0) == 0 {
            return Err(format!("no line in {json}"));
        }
        if i < 3 {
            let human = render_human(d, &checked.sources, case % 8 == 0);
            if !human.contains(d.code.as_str()) {
                return Err(format!("rendered without its code: {human}"));
            }
        }
    }
    if parses && let Ok(text) = std::str::from_utf8(bytes) {
        let mut sources = SourceMap::new();
        let id: FileId = sources.add(path, text);
        if let Ok(once) = pfi::syntax::format(id, text) {
            let twice = pfi::syntax::format(id, &once)
                .map_err(|d| format!("the formatted text does not format: {d:?}"))?;
            if twice != once {
                return Err(format!("fmt is not idempotent:\n{once}\n---\n{twice}"));
            }
        }
    }
    Ok(())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mangled_inputs_never_panic_in_process() {
    let cases = env_number("PFI_MANGLER_CASES", DEFAULT_CASES as u64) as usize;
    let seed = env_number("PFI_MANGLER_SEED", DEFAULT_SEED);
    let corpus = corpus();
    assert!(corpus.len() >= 30, "found only {} files", corpus.len());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let next = AtomicUsize::new(0);
    let panics = AtomicUsize::new(0);
    let invalid_utf8 = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let case = next.fetch_add(1, Ordering::Relaxed);
                    if case >= cases {
                        break;
                    }
                    // Each case has its own stream: a failure is reproduced from (seed, case).
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    rng.set_stream(case as u64);
                    let (path, original) = &corpus[case % corpus.len()];
                    let mut bytes = original.clone();
                    for _ in 0..rng.random_range(1..=3) {
                        mangle_once(&mut rng, &mut bytes);
                    }
                    if std::str::from_utf8(&bytes).is_err() {
                        invalid_utf8.fetch_add(1, Ordering::Relaxed);
                    }
                    let outcome = catch_unwind(AssertUnwindSafe(|| exercise(case, path, &bytes)));
                    let problem = match outcome {
                        Ok(Ok(())) => continue,
                        Ok(Err(problem)) => problem,
                        Err(payload) => {
                            panics.fetch_add(1, Ordering::Relaxed);
                            let message = payload
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            format!("panic: {message}")
                        }
                    };
                    let mut failures = failures.lock().unwrap();
                    if failures.len() < 10 {
                        failures.push(format!(
                            "case {case} (seed {seed}) of {}: {problem}\n  input: {:?}",
                            path.display(),
                            String::from_utf8_lossy(&bytes)
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let invalid = invalid_utf8.load(Ordering::Relaxed);
    eprintln!(
        "mangler: {cases} cases over {} files ({invalid} not UTF-8), {} panics",
        corpus.len(),
        panics.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} panics; first failures:\n{}",
        panics.load(Ordering::Relaxed),
        failures.join("\n")
    );
    assert!(
        invalid * 10 >= cases,
        "only {invalid} of {cases} cases were not UTF-8"
    );
}

/// The reproduction through the binary: a file that ends in a byte that is not UTF-8
/// gets the diagnostic at its line and column, and exit 2, in every command that reads one.
#[test]
fn a_file_that_is_not_utf8_is_located_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.pfi");
    std::fs::write(&path, b"experiment \"x\" { duration 5s }\xff\n").unwrap();
    let p = path.to_str().unwrap();
    for args in [
        vec!["check", p],
        vec!["check", "--format", "json", p],
        vec!["plan", p],
        vec!["run", p],
        vec!["fmt", p],
        vec!["fmt", "--check", p],
    ] {
        let out = crate::support::pfi().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let located = stderr.contains("f.pfi:1:31")
            || stdout.contains("\"line\":1") && stdout.contains("\"column\":31");
        assert!(
            located,
            "{args:?} does not say line 1, column 31:\n{stderr}{stdout}"
        );
        assert!(
            stderr.contains("0xff") || stdout.contains("0xff"),
            "{args:?}: {stderr}"
        );
    }
}
