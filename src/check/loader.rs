//! Reads a scenario and everything it imports: the standard library (`std/...`, built into
//! the binary) and the user's own files (relative to the importing file).

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId, SourceMap, Span};
use crate::syntax::ast::{File, Item};
use crate::syntax::{MAX_FILE_BYTES, parse};
use std::path::{Path, PathBuf};

/// The standard library, compiled into the binary so `import "std/..."` works anywhere.
pub const STDLIB: &[(&str, &str)] = &[
    ("std/network", include_str!("../../stdlib/std/network.pfi")),
    ("std/process", include_str!("../../stdlib/std/process.pfi")),
    (
        "std/patterns",
        include_str!("../../stdlib/std/patterns.pfi"),
    ),
    (
        "std/remediation",
        include_str!("../../stdlib/std/remediation.pfi"),
    ),
];

/// The entries of `std/remediation`, for the plan (the stdlib is checked by its own tests).
/// Parsed once per process, on the first check that builds a plan; later checks clone the
/// table.
pub fn stdlib_remediations() -> Vec<crate::plan::RemediationPlan> {
    static TABLE: std::sync::OnceLock<Vec<crate::plan::RemediationPlan>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(parse_stdlib_remediations).clone()
}

fn parse_stdlib_remediations() -> Vec<crate::plan::RemediationPlan> {
    let Some((_, text)) = STDLIB.iter().find(|(name, _)| *name == "std/remediation") else {
        return Vec::new();
    };
    let Ok((file, _)) = parse(FileId(0), text) else {
        return Vec::new();
    };
    file.items
        .iter()
        .filter_map(|i| match i {
            Item::Remediation(r) => Some(crate::plan::RemediationPlan {
                mode: r.mode.node.clone(),
                text: r.text.node.clone(),
                script: None,
            }),
            _ => None,
        })
        .collect()
}

/// One parsed file and whether it is the root scenario.
pub struct LoadedFile {
    pub id: FileId,
    pub ast: File,
    pub is_root: bool,
}

/// Loads `path` (or, when `text` is given, that text under the name `path`) and its imports
/// depth-first; every file is parsed once.
pub fn load(
    path: &Path,
    text: Option<&str>,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Vec<LoadedFile> {
    let mut loader = Loader {
        sources,
        diagnostics,
        files: Vec::new(),
        stack: Vec::new(),
        seen: std::collections::HashMap::new(),
    };
    let read = match text {
        Some(t) => Ok(t.to_string()),
        None => read_file(path),
    };
    match read {
        Ok(text) => {
            let id = loader.sources.add(path, text);
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            loader.seen.insert(canonical, id);
            loader.visit(id, true);
        }
        Err(err) => {
            let d = unreadable(loader.sources, path, err);
            loader.diagnostics.push(d);
        }
    }
    loader.files
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    diagnostics: &'a mut Diagnostics,
    files: Vec<LoadedFile>,
    /// The chain of imports being loaded, for cycle reports: (file, span of its import).
    stack: Vec<(FileId, Option<Span>)>,
    /// Canonical paths of the files read so far (a file imported twice is read once).
    seen: std::collections::HashMap<PathBuf, FileId>,
}

impl Loader<'_> {
    fn visit(&mut self, id: FileId, is_root: bool) {
        let ast = match parse(id, self.sources.text(id)) {
            Ok((ast, problems)) => {
                self.diagnostics.extend(problems);
                ast
            }
            Err(errors) => {
                self.diagnostics.extend(errors);
                return;
            }
        };
        let imports: Vec<(String, Span)> = ast
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Import(imp) => Some((imp.path.node.clone(), imp.path.span)),
                _ => None,
            })
            .collect();
        self.files.push(LoadedFile { id, ast, is_root });
        for (target, span) in imports {
            self.stack.push((id, Some(span)));
            self.import(id, &target, span);
            self.stack.pop();
        }
    }

    fn import(&mut self, from: FileId, target: &str, span: Span) {
        let (path, text) = if let Some(name) = target.strip_prefix("std/") {
            let key = format!("std/{}", name.trim_end_matches(".pfi"));
            match STDLIB.iter().find(|(k, _)| *k == key) {
                Some((k, text)) => (PathBuf::from(format!("<{k}>")), Ok(text.to_string())),
                None => {
                    let names: Vec<&str> = STDLIB.iter().map(|(k, _)| *k).collect();
                    let mut d = Diagnostic::error(
                        Code::ImportNotFound,
                        format!("there is no standard module `{target}`"),
                    )
                    .at(span, "not in the standard library")
                    .help(format!("standard modules: {}", names.join(", ")));
                    if let Some(s) = super::values::suggest(&key, names.iter().copied()) {
                        d = d.note(format!("did you mean `{s}`?"));
                    }
                    self.diagnostics.push(d);
                    return;
                }
            }
        } else {
            let base = self
                .sources
                .path(from)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let mut path = base.join(target);
            if !path.exists() && path.extension().is_none() {
                path.set_extension("pfi");
            }
            let text = read_file(&path);
            (path, text)
        };
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(&existing) = self.seen.get(&canonical) {
            if let Some(pos) = self.stack.iter().position(|(f, _)| *f == existing) {
                let mut chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|(f, _)| self.sources.path(*f).display().to_string())
                    .collect();
                chain.push(self.sources.path(existing).display().to_string());
                let mut d = Diagnostic::error(
                    Code::ImportCycle,
                    format!("import cycle: {}", chain.join(" -> ")),
                )
                .at(span, "this import closes the cycle");
                for (_, s) in &self.stack[pos..self.stack.len() - 1] {
                    if let Some(s) = s {
                        d = d.with_label(*s, "imported here");
                    }
                }
                self.diagnostics
                    .push(d.help("move what both files need into a third module that both import"));
            }
            return;
        }
        match text {
            Ok(text) => {
                let id = self.sources.add(path, text);
                self.seen.insert(canonical, id);
                self.visit(id, false);
            }
            Err(ReadError::NotText {
                lossy,
                offset,
                byte,
            }) => {
                let id = self.sources.add(path, lossy);
                self.diagnostics.push(not_text(id, offset, byte));
            }
            Err(ReadError::TooLarge(len)) => {
                let id = self.sources.add(path, "");
                self.diagnostics.push(too_large(id, len));
            }
            Err(ReadError::Other(message)) => self.diagnostics.push(
                Diagnostic::error(
                    Code::ImportNotFound,
                    format!("cannot import `{target}`: {message}"),
                )
                .at(span, format!("looked for {}", path.display()))
                .help("relative imports are resolved against the importing file's folder; standard modules start with `std/`"),
            ),
        }
    }
}

/// Why a file could not be read as text.
pub enum ReadError {
    /// Not UTF-8: the text with replacement characters, the offset of the first bad byte
    /// (the same in both: every byte before it is valid) and that byte.
    NotText {
        lossy: String,
        offset: usize,
        byte: u8,
    },
    /// Larger than `MAX_FILE_BYTES`: its size.
    TooLarge(u64),
    Other(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotText { offset, byte, .. } => write!(
                f,
                "it is not UTF-8 text (invalid byte 0x{byte:02x} at offset {offset})"
            ),
            ReadError::TooLarge(len) => write!(
                f,
                "it is {len} bytes; pfi reads files up to {MAX_FILE_BYTES} bytes (split it with `import`)"
            ),
            ReadError::Other(m) => f.write_str(m),
        }
    }
}

/// The diagnostic for a scenario that cannot be read, located in the file where it can be
/// (a file that is not UTF-8 is added to `sources` as its lossy decoding, so that the renderers
/// can show the line of its first invalid byte).
pub fn unreadable(sources: &mut SourceMap, path: &Path, err: ReadError) -> Diagnostic {
    match err {
        ReadError::NotText {
            lossy,
            offset,
            byte,
        } => {
            let id = sources.add(path, lossy);
            not_text(id, offset, byte)
        }
        ReadError::TooLarge(len) => {
            let id = sources.add(path, "");
            too_large(id, len)
        }
        ReadError::Other(message) => Diagnostic::error(
            Code::Unreadable,
            format!("cannot read `{}`: {message}", path.display()),
        )
        .help("check the path; `pfi check` takes the scenario file as its argument"),
    }
}

fn too_large(id: FileId, len: u64) -> Diagnostic {
    Diagnostic::error(
        Code::TooLarge,
        format!("the file is {len} bytes; pfi reads files up to {MAX_FILE_BYTES} bytes"),
    )
    .at(Span::new(id, 0, 0), "file starts here")
    .help("split the scenario into several files joined with `import`")
}

/// The diagnostic for a file that is not UTF-8, at its first invalid byte. The file's text in
/// the source map is the lossy decoding, where that byte is U+FFFD (three bytes): the span
/// covers exactly that character, so the renderers never cut one in two.
fn not_text(id: FileId, offset: usize, byte: u8) -> Diagnostic {
    Diagnostic::error(
        Code::Unreadable,
        format!(
            "the file is not UTF-8 text: byte 0x{byte:02x} cannot start or continue a character"
        ),
    )
    .at(
        Span::new(id, offset, offset + char::REPLACEMENT_CHARACTER.len_utf8()),
        "invalid byte here",
    )
    .help("a .pfi file is UTF-8 text; is this the right file? (re-save it as UTF-8)")
}

/// Reads a text file, refusing huge files before reading them.
pub fn read_file(path: &Path) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Other(describe_io(&e)))?;
    if meta.is_dir() {
        return Err(ReadError::Other("it is a directory".into()));
    }
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| ReadError::Other(describe_io(&e)))?;
    decode(bytes)
}

/// A file's bytes as text: UTF-8, or where it is not, the first invalid byte.
pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let byte = e.as_bytes().get(offset).copied().unwrap_or(0);
        let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
        // Offsets past the first bad byte shift in the lossy text; the first one does not.
        ReadError::NotText {
            lossy,
            offset,
            byte,
        }
    })
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
