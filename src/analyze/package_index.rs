//! What the other files of a package say about a name: guards are often configured in one
//! module and used in another (a `requests.Session` with a retrying adapter built in a
//! factory module, a Go `http.Client{Timeout: ...}` made in a constructor, a pool in a
//! `db.js`). The index holds, per file, its bindings (`name = value`, typed fields, keyed
//! fields of a literal) and its small functions' text; a scanner asks it about a name its own
//! file does not bind, or about a function a binding calls.
//!
//! A module root (`mod.rs`, `lib.rs`, `__init__.py`, `index.js`) also sees the pool settings
//! of its submodules' folders.
//!
//! A file is consulted only when it is in the same folder as the asking file (a Go or Java
//! package, a Python package's sibling modules) or when an import line of the asking file
//! names both the file (by its stem) and the name.

use super::source_language::SourceLanguage;
use crate::diagnostic::FileId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Functions longer than this are not factories: their text would bring unrelated words.
const MAX_FACTORY_LINES: usize = 40;

#[derive(Default)]
pub struct PackageIndex {
    files: HashMap<FileId, IndexedFile>,
}

struct IndexedFile {
    family: &'static str,
    dir: PathBuf,
    stem: String,
    bindings: HashMap<String, Vec<String>>,
    functions: HashMap<String, String>,
    /// Its import lines (`import`, `from`, `use`, `require(`).
    imports: Vec<String>,
    /// It bounds a connection pool (`max_connections(...)`, `pool_size=`...).
    pool: bool,
    path: PathBuf,
}

impl PackageIndex {
    pub fn new() -> PackageIndex {
        PackageIndex::default()
    }

    /// Adds one file's bindings and functions (as `call_scanner::file_index` found them).
    pub fn add(
        &mut self,
        text: &str,
        path: &Path,
        file: FileId,
        language: SourceLanguage,
        bindings: HashMap<String, Vec<String>>,
        functions: HashMap<String, String>,
    ) {
        let functions = functions
            .into_iter()
            .filter(|(_, text)| text.lines().count() <= MAX_FACTORY_LINES)
            .collect();
        self.files.insert(
            file,
            IndexedFile {
                family: family(language),
                dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                stem: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bindings,
                functions,
                imports: import_lines(text),
                pool: false,
                path: path.to_path_buf(),
            },
        );
    }

    /// Records that `file` bounds a connection pool.
    pub fn mark_pool(&mut self, file: FileId) {
        if let Some(f) = self.files.get_mut(&file) {
            f.pool = true;
        }
    }

    /// The files `asking` may consult about `name`, other than itself.
    fn visible<'i>(
        &'i self,
        asking: FileId,
        name: &'i str,
    ) -> impl Iterator<Item = &'i IndexedFile> + 'i {
        let me = self.files.get(&asking);
        let mut ids: Vec<&FileId> = self.files.keys().filter(|id| **id != asking).collect();
        ids.sort();
        ids.into_iter().filter_map(move |id| {
            let me = me?;
            let other = &self.files[id];
            if other.family != me.family {
                return None;
            }
            let imported = || {
                other.stem.len() > 1
                    && me
                        .imports
                        .iter()
                        .any(|l| has_word(l, &other.stem) && has_word(l, name))
            };
            (other.dir == me.dir || imported()).then_some(other)
        })
    }

    /// A file that bounds the connection pool for `asking`'s queries: one of its package, or
    /// of a submodule's folder when `asking` is a module root (`db/mod.rs` and the backends in
    /// `db/postgres/mod.rs`, `db/mysql/mod.rs` that implement its trait; a package's
    /// `__init__.py`, `index.js`).
    pub fn pool_configured_for(&self, asking: FileId) -> Option<String> {
        let me = self.files.get(&asking)?;
        let root = matches!(me.stem.as_str(), "mod" | "lib" | "__init__" | "index");
        let mut ids: Vec<&FileId> = self.files.keys().filter(|id| **id != asking).collect();
        ids.sort();
        ids.into_iter().map(|id| &self.files[id]).find_map(|other| {
            let near = other.dir == me.dir || (root && other.dir.starts_with(&me.dir));
            (other.family == me.family && other.pool && near)
                .then(|| other.path.display().to_string())
        })
    }

    /// What the other visible files bind `name` to.
    pub fn bindings_of(&self, asking: FileId, name: &str) -> Vec<String> {
        self.visible(asking, name)
            .flat_map(|f| f.bindings.get(name).into_iter().flatten().cloned())
            .collect()
    }

    /// The text of a function called `name`: in the asking file first, then in the visible
    /// files.
    pub fn function(&self, asking: FileId, name: &str) -> Option<String> {
        if let Some(text) = self.files.get(&asking).and_then(|f| f.functions.get(name)) {
            return Some(text.clone());
        }
        self.visible(asking, name)
            .find_map(|f| f.functions.get(name).cloned())
    }
}

/// Languages that can import one another's files.
fn family(language: SourceLanguage) -> &'static str {
    match language {
        SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => "js",
        other => other.name(),
    }
}

fn import_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            (l.starts_with("import ")
                || l.starts_with("from ")
                || l.starts_with("use ")
                || l.starts_with("pub use ")
                || l.contains("require("))
                && l.len() < 1000
        })
        .map(str::to_string)
        .collect()
}

fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}
