//! One source file → its outbound calls: parses with tree-sitter, collects the file's
//! bindings (`name = value`, typed parameters and fields), then for every call chain
//! (`client.get(url).send().await`) asks the catalog whether it reaches another service,
//! resolves what it reaches, finds the guards around it and where it runs.

use super::call_catalog::{Category, classify};
use super::failure_point::{CallPath, FailurePoint, Guard, Target, score};
use super::package_index::PackageIndex;
use super::source_language::{NodeKinds, SourceLanguage};
use crate::diagnostic::{Code, Diagnostic, FileId, SourceMap, Span};
use std::collections::HashMap;
use tree_sitter::{Node, Parser};

/// Settings that bound a connection pool.
const POOL_WORDS: &[&str] = &[
    "pool_size",
    "max_connections",
    "maxconnections",
    "setmaxopenconns",
    "maxopenconns",
    "maximumpoolsize",
    "maxpoolsize",
    "connectionlimit",
    "max_size",
    "pool_maxsize",
    "poolsize",
    "max_overflow",
    "maxsockets",
    "maxconnsperhost",
    "max_pool_size",
    "maxconns",
    "connection_limit",
    "max_open",
    "maxsize",
];

/// At most this many values make up what a name is bound to (minified code binds `e` a
/// thousand times).
const MAX_PROVENANCE_VALUES: usize = 64;
/// Values longer than this are not read for the factory functions they call.
const MAX_FACTORY_CALL: usize = 400;

/// What one file yields: its calls and the problems met (unparsable parts).
pub struct FileScan {
    pub points: Vec<FailurePoint>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Adds the file's bindings and named functions to `index`, for the other files' scans.
pub fn index_file(
    sources: &SourceMap,
    file: FileId,
    language: SourceLanguage,
    index: &mut PackageIndex,
) {
    let mut parser = Parser::new();
    if parser.set_language(&language.grammar()).is_err() {
        return;
    }
    let Some(tree) = parser.parse(sources.text(file), None) else {
        return;
    };
    let root = tree.root_node();
    let empty = PackageIndex::new();
    let scanner = Scanner::new(sources, file, language, root, &empty);
    let mut functions: HashMap<String, String> = HashMap::new();
    walk(root, |n| {
        if scanner.kinds.functions.contains(&n.kind())
            && let Some(name) = n.child_by_field_name("name")
        {
            functions
                .entry(scanner.node_text(name).to_string())
                .or_insert_with(|| scanner.node_text(n).to_string());
        }
    });
    index.add(
        sources.text(file),
        sources.path(file),
        file,
        language,
        scanner.bindings,
        functions,
    );
    if has_any(&sources.text(file).to_ascii_lowercase(), POOL_WORDS) {
        index.mark_pool(file);
    }
}

/// The file's outbound calls. `package` holds what the other files of the source tree bind
/// (`index_file`): a client configured in another module is resolved through it.
pub fn scan_file(
    sources: &SourceMap,
    file: FileId,
    language: SourceLanguage,
    package: &PackageIndex,
) -> FileScan {
    let text = sources.text(file);
    let mut parser = Parser::new();
    let mut diagnostics = Vec::new();
    if parser.set_language(&language.grammar()).is_err() {
        diagnostics.push(Diagnostic::error(
            Code::SourceParse,
            format!("the {} grammar could not be loaded", language.name()),
        ));
        return FileScan {
            points: Vec::new(),
            diagnostics,
        };
    }
    let Some(tree) = parser.parse(text, None) else {
        diagnostics.push(
            Diagnostic::warning(Code::SourceParse, "the file could not be parsed")
                .at(Span::new(file, 0, 0), "here"),
        );
        return FileScan {
            points: Vec::new(),
            diagnostics,
        };
    };
    let root = tree.root_node();
    if root.has_error() {
        let mut errors = Vec::new();
        walk(root, |n| {
            if (n.is_error() || n.is_missing()) && errors.len() < 1000 {
                errors.push(n);
            }
        });
        if let Some(first) = errors.first() {
            let what = if first.is_missing() {
                format!("`{}` is missing here", first.kind())
            } else {
                "syntax the grammar does not accept".to_string()
            };
            let mut d = Diagnostic::warning(
                Code::SourceParse,
                format!(
                    "{} does not parse as {}",
                    sources.path(file).display(),
                    language.name()
                ),
            )
            .at(
                Span::new(
                    file,
                    first.start_byte(),
                    first.end_byte().max(first.start_byte()),
                ),
                what,
            )
            .help("the rest of the file is analysed; calls inside the broken part may be missed");
            if errors.len() > 1 {
                d = d.note(format!("{} places do not parse", errors.len()));
            }
            diagnostics.push(d);
        }
    }
    let scanner = Scanner::new(sources, file, language, root, package);
    let mut points = Vec::new();
    walk(root, |n| {
        if scanner.is_call(n)
            && !scanner.is_inner(n)
            && let Some(p) = scanner.call(n)
        {
            points.push(p);
        }
    });
    // One level across calls in the file: a function called by a request handler (or a
    // worker) runs on that path too.
    let mut handlers: Vec<(CallPath, &str)> = Vec::new();
    walk(root, |n| {
        if scanner.kinds.functions.contains(&n.kind()) {
            let mut chain = vec![n];
            chain.extend(scanner.enclosing_functions(n));
            let path = scanner.call_path(&chain);
            if path != CallPath::Other {
                handlers.push((path, scanner.node_text(n)));
            }
        }
    });
    for p in points.iter_mut().filter(|p| p.path == CallPath::Other) {
        let Some(name) = p.function.clone() else {
            continue;
        };
        let called = |body: &str| {
            body.match_indices(&format!("{name}(")).any(|(i, _)| {
                !body[..i].chars().next_back().is_some_and(is_ident_char)
                    && !body[..i].trim_end().ends_with("def")
                    && !body[..i].trim_end().ends_with("fn")
                    && !body[..i].trim_end().ends_with("func")
            })
        };
        let caller = handlers
            .iter()
            .filter(|(_, body)| called(body))
            .map(|(path, _)| *path)
            .min();
        if let Some(path) = caller {
            p.path = path;
            let (score, severity, missing) = score(p.category, path, &p.guards);
            (p.score, p.severity, p.missing) = (score, severity, missing);
            p.evidence.push(
                format!("path: `{name}` is called from a {path:?} function").to_ascii_lowercase(),
            );
        }
    }
    FileScan {
        points,
        diagnostics,
    }
}

/// Depth-first, every node.
fn walk<'t>(root: Node<'t>, mut f: impl FnMut(Node<'t>)) {
    let mut cursor = root.walk();
    loop {
        f(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

struct Step<'t> {
    method: String,
    args: Option<Node<'t>>,
    call: Node<'t>,
}

struct Scanner<'a> {
    sources: &'a SourceMap,
    file: FileId,
    text: &'a str,
    language: SourceLanguage,
    kinds: &'static NodeKinds,
    bindings: HashMap<String, Vec<String>>,
    package: &'a PackageIndex,
}

impl<'a> Scanner<'a> {
    fn new(
        sources: &'a SourceMap,
        file: FileId,
        language: SourceLanguage,
        root: Node<'_>,
        package: &'a PackageIndex,
    ) -> Self {
        let mut s = Scanner {
            sources,
            file,
            text: sources.text(file),
            language,
            kinds: language.kinds(),
            bindings: HashMap::new(),
            package,
        };
        let mut bindings: HashMap<String, Vec<String>> = HashMap::new();
        walk(root, |n| {
            for (kind, name_field, value_fields) in s.kinds.bindings {
                if n.kind() != *kind {
                    continue;
                }
                let Some(name) = s.field(n, name_field) else {
                    continue;
                };
                let mut values = Vec::new();
                for f in *value_fields {
                    let v = match f.strip_prefix('^') {
                        Some(parent_field) => {
                            n.parent().and_then(|p| p.child_by_field_name(parent_field))
                        }
                        None => s.field(n, f),
                    };
                    if let Some(v) = v {
                        values.push(s.node_text(v).to_string());
                    }
                }
                let names = s.node_text(name).to_string();
                for one in names.split(',') {
                    let key = last_identifier(one);
                    if !key.is_empty() {
                        bindings
                            .entry(key)
                            .or_default()
                            .extend(values.iter().cloned());
                    }
                }
            }
        });
        s.bindings = bindings;
        s
    }

    fn field<'t>(&self, n: Node<'t>, field: &str) -> Option<Node<'t>> {
        match field {
            "#0" => n.named_child(0),
            "#1" => n.named_child(1),
            f => n.child_by_field_name(f),
        }
    }

    fn node_text(&self, n: Node<'_>) -> &'a str {
        self.text.get(n.byte_range()).unwrap_or("")
    }

    fn strip<'t>(&self, mut n: Node<'t>) -> Node<'t> {
        while self.kinds.transparent.contains(&n.kind()) || n.kind() == "generic_function" {
            let inner = if n.kind() == "generic_function" {
                n.child_by_field_name("function")
            } else {
                n.named_child(0)
            };
            match inner {
                Some(i) => n = i,
                None => break,
            }
        }
        n
    }

    fn is_call(&self, n: Node<'_>) -> bool {
        self.kinds.calls.iter().any(|(k, _)| *k == n.kind())
    }

    fn member(&self, kind: &str) -> Option<(&'static str, &'static str)> {
        self.kinds
            .members
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, o, p)| (*o, *p))
    }

    /// A call whose result has a method called on it is part of a longer chain.
    fn is_inner(&self, n: Node<'_>) -> bool {
        let mut p = n.parent();
        while let Some(x) = p.filter(|x| self.kinds.transparent.contains(&x.kind())) {
            p = x.parent();
        }
        let Some(p) = p else { return false };
        if p.kind() == "method_invocation" {
            return p
                .child_by_field_name("object")
                .is_some_and(|o| self.strip(o).id() == n.id());
        }
        if let Some((object, _)) = self.member(p.kind())
            && p.child_by_field_name(object)
                .is_some_and(|o| self.strip(o).id() == n.id())
        {
            let mut gp = p.parent();
            while let Some(x) = gp.filter(|x| x.kind() == "generic_function") {
                gp = x.parent();
            }
            return gp.is_some_and(|g| self.is_call(g));
        }
        false
    }

    /// (receiver, method, arguments) of one call.
    fn shape<'t>(&self, n: Node<'t>) -> Option<(Option<Node<'t>>, String, Option<Node<'t>>)> {
        let args = n.child_by_field_name("arguments");
        if n.kind() == "method_invocation" {
            let name = n.child_by_field_name("name")?;
            return Some((
                n.child_by_field_name("object"),
                self.node_text(name).to_string(),
                args,
            ));
        }
        let field = self.kinds.calls.iter().find(|(k, _)| *k == n.kind())?.1;
        let f = self.strip(n.child_by_field_name(field)?);
        if let Some((object, property)) = self.member(f.kind()) {
            let method = f
                .child_by_field_name(property)
                .map(|p| self.node_text(p).to_string())
                .unwrap_or_default();
            return Some((f.child_by_field_name(object), method, args));
        }
        Some((None, normalise(self.node_text(f)), args))
    }

    fn decompose<'t>(&self, top: Node<'t>) -> Option<(Option<Node<'t>>, Vec<Step<'t>>)> {
        let mut steps = Vec::new();
        let mut node = top;
        let mut root = None;
        for _ in 0..64 {
            let (recv, method, args) = self.shape(node)?;
            steps.push(Step {
                method,
                args,
                call: node,
            });
            match recv.map(|r| self.strip(r)) {
                Some(r) if self.is_call(r) => node = r,
                Some(r) => {
                    root = Some(r);
                    break;
                }
                None => break,
            }
        }
        steps.reverse();
        Some((root, steps))
    }

    fn call(&self, top: Node<'_>) -> Option<FailurePoint> {
        let (root, steps) = self.decompose(top)?;
        let first = steps.first()?;
        let root_text = root
            .map(|r| normalise(self.node_text(r)))
            .unwrap_or_default();
        let path = if root_text.is_empty() {
            first.method.clone()
        } else {
            format!("{root_text}.{}", first.method)
        };
        let root_name = last_identifier(&root_text);
        let mut provenance = self.provenance(&root_name, &root_text);
        let lead = leading_identifier(&root_text);
        if lead != root_name && !lead.is_empty() {
            provenance.push('\n');
            provenance.push_str(&self.provenance(&lead, ""));
        }
        let methods: Vec<String> = steps.iter().map(|s| s.method.clone()).collect();
        let (entry, index, matched_by) =
            classify(self.language, &path, &methods, &provenance, &root_name)?;
        let call = steps[index].call;
        let span = Span::new(self.file, top.start_byte(), call.end_byte());
        let chain_text = self.node_text(top);
        let function = self.enclosing_functions(top);
        let args_text = steps[index].args.map(|a| self.node_text(a)).unwrap_or("");
        let (guards, evidence, timeout_ms) = self.guards(
            entry.category,
            top,
            &steps,
            chain_text,
            &provenance,
            &root_name,
            &function,
        );
        let target = self.target(args_text, &provenance);
        let path_kind = self.call_path(&function);
        let (score, severity, missing) = score(entry.category, path_kind, &guards);
        let (line, column) = self.sources.line_col(self.file, span.start);
        let (end_line, end_column) = self.sources.line_col(self.file, span.end);
        let shown = self.sources.slice(span).lines().next().unwrap_or("").trim();
        Some(FailurePoint {
            span,
            file: self.sources.path(self.file).display().to_string(),
            line,
            column,
            end_line,
            end_column,
            language: self.language.name(),
            category: entry.category,
            library: entry.library,
            matched_by,
            call: shown.chars().take(100).collect(),
            dependency: target.dependency_name(entry.category),
            target,
            path: path_kind,
            function: function
                .first()
                .and_then(|f| f.child_by_field_name("name"))
                .map(|n| self.node_text(n).to_string()),
            guards,
            evidence,
            missing,
            timeout_ms,
            score,
            severity,
            source: self.language,
        })
    }

    /// What the root name is bound to, transitively (three levels), with the root itself.
    /// A name this file does not bind is looked up in the package (the other files of its
    /// folder, or the file it is imported from); a value that calls a function of the package
    /// (`session = make_session()`) brings that function's text, where the client is made.
    fn provenance(&self, root_name: &str, root_text: &str) -> String {
        let mut out = vec![root_text.to_string()];
        let mut frontier = vec![root_name.to_string()];
        let mut seen = std::collections::HashSet::new();
        let mut factories = std::collections::HashSet::new();
        for _ in 0..3 {
            let mut next = Vec::new();
            for name in frontier {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let local = self.bindings.get(&name).cloned().unwrap_or_default();
                let values = if local.is_empty() && name.len() > 1 {
                    self.package.bindings_of(self.file, &name)
                } else {
                    local
                };
                for value in values {
                    if out.len() >= MAX_PROVENANCE_VALUES {
                        break;
                    }
                    // A factory call is short; a long value is a whole function or object.
                    let callees = if value.len() <= MAX_FACTORY_CALL {
                        called_functions(&value)
                    } else {
                        Vec::new()
                    };
                    for callee in callees {
                        if factories.insert(callee.clone())
                            && let Some(body) = self.package.function(self.file, &callee)
                        {
                            out.push(body);
                        }
                    }
                    let lead = leading_identifier(&value);
                    out.push(value);
                    if !lead.is_empty() {
                        next.push(lead);
                    }
                }
            }
            frontier = next;
        }
        out.join("\n")
    }

    /// Function-like ancestors, innermost first.
    fn enclosing_functions<'t>(&self, n: Node<'t>) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        let mut p = n.parent();
        while let Some(x) = p {
            if self.kinds.functions.contains(&x.kind()) {
                out.push(x);
            }
            p = x.parent();
        }
        out
    }

    fn enclosing_class<'t>(&self, n: Node<'t>) -> Option<Node<'t>> {
        let mut p = n.parent();
        while let Some(x) = p {
            if x.kind() == "class_definition" {
                return Some(x);
            }
            p = x.parent();
        }
        None
    }

    /// Decorators, annotations and attributes of a function.
    fn decorations(&self, f: Node<'_>) -> String {
        let mut out = String::new();
        let mut push = |n: Node<'_>| {
            out.push_str(self.node_text(n));
            out.push('\n');
        };
        if let Some(p) = f.parent().filter(|p| p.kind() == "decorated_definition") {
            let mut c = p.walk();
            for child in p.named_children(&mut c) {
                if child.kind() == "decorator" {
                    push(child);
                }
            }
        }
        let mut c = f.walk();
        for child in f.named_children(&mut c) {
            if self.kinds.decorations.contains(&child.kind()) || child.kind() == "modifiers" {
                push(child);
            }
        }
        let mut prev = f.prev_named_sibling();
        while let Some(s) = prev.filter(|s| self.kinds.decorations.contains(&s.kind())) {
            push(s);
            prev = s.prev_named_sibling();
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn guards(
        &self,
        category: Category,
        top: Node<'_>,
        steps: &[Step<'_>],
        chain_text: &str,
        provenance: &str,
        root_name: &str,
        functions: &[Node<'_>],
    ) -> (Vec<Guard>, Vec<String>, Option<u64>) {
        let mut found: Vec<(Guard, String)> = Vec::new();
        let mut add = |g: Guard, why: String| {
            if !found.iter().any(|(x, _)| *x == g) {
                found.push((g, why));
            }
        };
        let chain = chain_text.to_ascii_lowercase();
        let prov = provenance.to_ascii_lowercase();
        let inner = functions.first().copied();
        let fn_text = inner.map(|f| self.node_text(f)).unwrap_or("");
        let decorations: String = functions
            .iter()
            .map(|f| self.decorations(*f))
            .collect::<String>()
            .to_ascii_lowercase();
        let mut timeout_ms = None;

        // Timeouts.
        if has_any(&chain, &["timeout", "deadline"]) {
            add(Guard::Timeout, "on the call".into());
            timeout_ms = timeout_value(chain_text, self.language);
        } else if has_any(&prov, &["timeout", "deadline"]) {
            add(Guard::Timeout, format!("on the client `{root_name}`"));
            timeout_ms = timeout_value(provenance, self.language);
        } else if has_any(&decorations, &["timeout", "timelimiter"]) {
            add(Guard::Timeout, "by a decorator".into());
        } else if (fn_text.contains("WithTimeout(") || fn_text.contains("WithDeadline("))
            && chain_text.contains("ctx")
        {
            add(Guard::Timeout, "by the context's deadline".into());
        } else if chain.contains("signal") && fn_text.to_ascii_lowercase().contains("timeout") {
            add(Guard::Timeout, "by an abort signal".into());
        }
        // Wrapping calls and loops up to the function.
        let mut p = top.parent();
        while let Some(x) = p {
            if Some(x) == inner {
                break;
            }
            if self.is_call(x)
                && let Some((_, method, _)) = self.shape(x)
            {
                let callee = method.to_ascii_lowercase();
                if has_any(&callee, &["timeout", "wait_for", "deadline"]) {
                    add(Guard::Timeout, format!("wrapped in `{method}`"));
                }
                if has_any(&callee, &["retry", "backoff"]) {
                    add(Guard::Retry, format!("wrapped in `{method}`"));
                }
                if has_any(&callee, &["breaker", "circuit"]) {
                    add(Guard::CircuitBreaker, format!("wrapped in `{method}`"));
                }
                if self.language == SourceLanguage::Go && callee.contains("execute") {
                    let receiver = self.node_text(x).to_ascii_lowercase();
                    if has_any(&receiver, &["breaker", "cb."]) {
                        add(Guard::CircuitBreaker, "inside the breaker's Execute".into());
                    }
                }
            }
            if self.kinds.loops.contains(&x.kind()) {
                let body = self.node_text(x).to_ascii_lowercase();
                if has_any(&body, &["sleep", "backoff", "retry", "retries", "attempt"]) {
                    add(Guard::Retry, "a retry loop around it".into());
                }
            }
            if self.kinds.tries.contains(&x.kind()) && self.try_falls_back(x, top) {
                add(Guard::Fallback, "a handler that does not re-raise".into());
            }
            if self.language == SourceLanguage::Rust {
                let t = self.node_text(x);
                if (x.kind() == "if_expression"
                    && t.trim_start_matches("if ").starts_with("let Ok("))
                    || (x.kind() == "match_expression"
                        && t.contains("Err(")
                        && !t.contains("return Err")
                        && !t.contains("Err(e) => Err"))
                {
                    add(Guard::Fallback, "the error is matched and replaced".into());
                }
            }
            p = x.parent();
        }
        if has_any(&decorations, &["retry", "backoff", "retryable"]) {
            add(Guard::Retry, "by a decorator".into());
        }
        if has_any(&decorations, &["circuit", "breaker"]) {
            add(Guard::CircuitBreaker, "by a decorator".into());
        }
        if decorations.contains("fallback") {
            add(Guard::Fallback, "a fallback method".into());
        }
        if has_any(&prov, &["retry", "retries"]) {
            add(Guard::Retry, format!("on the client `{root_name}`"));
        }
        if has_any(&prov, &["breaker", "circuit"]) {
            add(
                Guard::CircuitBreaker,
                format!("on the client `{root_name}`"),
            );
        }
        // A statement elsewhere that wraps the function or configures the client.
        let fn_name = inner
            .and_then(|f| f.child_by_field_name("name"))
            .map(|n| self.node_text(n).to_string())
            .unwrap_or_default();
        let def_line = inner.map(|f| f.start_position().row);
        for (row, line) in self.text.lines().enumerate() {
            let lower = line.to_ascii_lowercase();
            let mentions = |name: &str| {
                name.len() > 1
                    && line.match_indices(name).any(|(i, _)| {
                        let before = line[..i].chars().next_back();
                        let after = line[i + name.len()..].chars().next();
                        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
                    })
            };
            let wraps_function = Some(row) != def_line && mentions(&fn_name);
            let configures_client = mentions(root_name) && !lower.trim_start().starts_with("def ");
            if !(wraps_function || configures_client) {
                continue;
            }
            if has_any(&lower, &["retry", "backoff"]) && !lower.contains("no_retry") {
                add(Guard::Retry, format!("line {}", row + 1));
            }
            if has_any(&lower, &["breaker", "circuit"]) {
                add(Guard::CircuitBreaker, format!("line {}", row + 1));
                if wraps_function && lower.contains("timeout") {
                    add(Guard::Timeout, format!("the breaker's, line {}", row + 1));
                }
            }
        }
        // Fallbacks in the chain.
        if let Some(c) = steps.iter().find(|s| s.method == "catch") {
            let handler = c.args.map(|a| self.node_text(a)).unwrap_or("");
            if !handler.contains("throw") {
                add(Guard::Fallback, "`.catch` without re-throwing".into());
            }
        }
        if self.language == SourceLanguage::Rust
            && has_any(
                &self.statement_text(top),
                &["unwrap_or", ".or_else(", ".ok()"],
            )
        {
            add(Guard::Fallback, "the error is replaced by a default".into());
        }
        if self.language == SourceLanguage::Go && self.go_error_falls_back(top) {
            add(
                Guard::Fallback,
                "the error branch does not return the error".into(),
            );
        }
        // Pools.
        let pooled = matches!(category, Category::Database | Category::Cache);

        if has_any(&prov, POOL_WORDS) || (prov.contains("pool") && prov.contains("max:")) {
            add(Guard::BoundedPool, format!("on the client `{root_name}`"));
        } else if pooled && has_any(&self.text.to_ascii_lowercase(), POOL_WORDS) {
            add(Guard::BoundedPool, "configured in this file".into());
        } else if pooled && let Some(other) = self.package.pool_configured_for(self.file) {
            add(Guard::BoundedPool, format!("configured in {other}"));
        }
        found.sort_by_key(|(g, _)| *g);
        let evidence = found
            .iter()
            .map(|(g, why)| format!("{}: {why}", g.name()))
            .collect();
        (
            found.into_iter().map(|(g, _)| g).collect(),
            evidence,
            timeout_ms,
        )
    }

    /// The call sits in the try's body and no handler re-raises.
    fn try_falls_back(&self, try_node: Node<'_>, call: Node<'_>) -> bool {
        let mut c = try_node.walk();
        let mut handlers = Vec::new();
        for child in try_node.named_children(&mut c) {
            if self.kinds.handlers.contains(&child.kind()) {
                if child.byte_range().contains(&call.start_byte()) {
                    return false;
                }
                handlers.push(child);
            }
            if child.kind() == "finally_clause" && child.byte_range().contains(&call.start_byte()) {
                return false;
            }
        }
        !handlers.is_empty()
            && handlers.iter().all(|h| {
                let t = self.node_text(*h);
                !t.contains("raise") && !t.contains("throw")
            })
    }

    fn statement_text(&self, n: Node<'_>) -> String {
        let mut p = Some(n);
        while let Some(x) = p {
            if self.kinds.statements.contains(&x.kind()) {
                return self.node_text(x).to_string();
            }
            p = x.parent();
        }
        self.node_text(n).to_string()
    }

    /// Go: the `if err != nil` after the call's statement neither returns the error nor
    /// fails the request.
    fn go_error_falls_back(&self, n: Node<'_>) -> bool {
        let mut p = Some(n);
        while let Some(x) = p {
            if self.kinds.statements.contains(&x.kind()) {
                break;
            }
            p = x.parent();
        }
        let Some(statement) = p else { return false };
        let mut next = statement.next_named_sibling();
        while let Some(c) = next.filter(|n| n.kind() == "comment") {
            next = c.next_named_sibling();
        }
        let Some(next) = next else { return false };
        if next.kind() != "if_statement" {
            return false;
        }
        let condition = next
            .child_by_field_name("condition")
            .map(|c| self.node_text(c))
            .unwrap_or("");
        if !condition.contains("err != nil") {
            return false;
        }
        let body = next
            .child_by_field_name("consequence")
            .map(|c| self.node_text(c))
            .unwrap_or("");
        let propagates = body.lines().any(|l| {
            let l = l.trim();
            (l.starts_with("return") && l.contains("err"))
                || l.contains("panic(")
                || l.contains("Fatal")
                || l.contains("http.Error(")
        });
        !propagates
    }

    /// What the call reaches: a literal host, an env var, a config key; looked for in the
    /// arguments first, then in what they and the receiver are bound to.
    fn target(&self, args: &str, provenance: &str) -> Target {
        let mut layer = args.to_string();
        let mut seen = std::collections::HashSet::new();
        for depth in 0..3 {
            if let Some(t) = target_in(&layer) {
                return t;
            }
            let mut next = String::new();
            for word in identifiers(&layer) {
                if seen.insert(word.clone())
                    && let Some(values) = self.bindings.get(&word)
                {
                    for v in values {
                        next.push_str(v);
                        next.push('\n');
                    }
                }
            }
            if depth == 0 {
                next.push_str(provenance);
            }
            layer = next;
        }
        Target::Unknown
    }

    /// Where the call runs, from the innermost function outwards.
    fn call_path(&self, functions: &[Node<'_>]) -> CallPath {
        for f in functions {
            // A handler class's HTTP-verb methods (tornado, Django class-based views, Flask
            // MethodView, falcon resources).
            let name = f
                .child_by_field_name("name")
                .map(|n| self.node_text(n))
                .unwrap_or("");
            if matches!(name, "get" | "post" | "put" | "delete" | "patch" | "head")
                && let Some(class) = self.enclosing_class(*f)
            {
                let bases = class
                    .child_by_field_name("superclasses")
                    .map(|b| self.node_text(b))
                    .unwrap_or("");
                if has_any(bases, &["Handler", "View", "Resource", "APIView"]) {
                    return CallPath::Request;
                }
            }
            let decorations = self.decorations(*f).to_ascii_lowercase();
            if has_any(
                &decorations,
                &[
                    "route",
                    "mapping",
                    "api_view",
                    "@get",
                    "@post",
                    "@put",
                    "@delete",
                    "@path",
                    "#[get",
                    "#[post",
                    "#[put",
                    "#[delete",
                    "#[route",
                    ".get(",
                    ".post(",
                    ".put(",
                    ".delete(",
                    ".patch(",
                    ".websocket(",
                ],
            ) {
                return CallPath::Request;
            }
            if has_any(
                &decorations,
                &[
                    "task",
                    "listener",
                    "scheduled",
                    "consumer",
                    "subscribe",
                    "cron",
                    "actor",
                    "job",
                ],
            ) {
                return CallPath::Worker;
            }
            let params = f
                .child_by_field_name("parameters")
                .map(|p| self.node_text(p))
                .unwrap_or("");
            let lower = params.to_ascii_lowercase();
            if has_any(
                params,
                &[
                    "http.ResponseWriter",
                    "gin.Context",
                    "echo.Context",
                    "fiber.Ctx",
                    "HttpServletRequest",
                    "HttpRequest",
                    "Json<",
                    "Query<",
                    "Form<",
                    "web::",
                ],
            ) || has_any(
                &lower,
                &[
                    "request",
                    "(req,",
                    "(req ",
                    "req, res",
                    "(ctx, next",
                    "reply",
                ],
            ) {
                return CallPath::Request;
            }
            if let Some(call) = f
                .parent()
                .filter(|a| a.kind() == "arguments")
                .and_then(|a| a.parent())
                && let Some((recv, method, _)) = self.shape(call)
            {
                let recv = recv
                    .map(|r| last_identifier(self.node_text(r)))
                    .unwrap_or_default();
                let m = method.to_ascii_lowercase();
                if matches!(
                    recv.as_str(),
                    "app" | "router" | "server" | "fastify" | "api" | "routes"
                ) && matches!(
                    m.as_str(),
                    "get"
                        | "post"
                        | "put"
                        | "delete"
                        | "patch"
                        | "all"
                        | "use"
                        | "route"
                        | "handle"
                        | "handlefunc"
                ) {
                    return CallPath::Request;
                }
                if has_any(
                    &m,
                    &[
                        "consume",
                        "subscribe",
                        "process",
                        "worker",
                        "setinterval",
                        "schedule",
                    ],
                ) {
                    return CallPath::Worker;
                }
            }
            let name = f
                .child_by_field_name("name")
                .map(|n| self.node_text(n))
                .unwrap_or("");
            if matches!(name, "GET" | "POST" | "PUT" | "DELETE" | "PATCH")
                || name.starts_with("handle")
                || name.starts_with("Handle")
                || name.ends_with("Handler")
                || name.ends_with("_handler")
                || name.ends_with("_view")
            {
                return CallPath::Request;
            }
            let lname = name.to_ascii_lowercase();
            if has_any(
                &lname,
                &["worker", "consume", "job", "task", "process_", "on_message"],
            ) {
                return CallPath::Worker;
            }
        }
        CallPath::Other
    }
}

/// The names of the functions `text` calls: `make_session` in `make_session()`, `NewClient`
/// in `pkg.NewClient(cfg)`. Linear in the text.
fn called_functions(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    for (i, _) in text.match_indices('(') {
        let start = bytes[..i]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map_or(0, |p| p + 1);
        let name = &text[start..i];
        if !name.is_empty()
            && !name.as_bytes()[0].is_ascii_digit()
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_string());
        }
    }
    out
}

fn has_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `client . get` → `client.get`, `a::b` → `a.b`, `a?.b` → `a.b`.
fn normalise(text: &str) -> String {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .replace("::", ".")
        .replace("?.", ".")
        .replace("->", ".")
}

/// The last identifier of an expression: `self.session` → `session`, `mut c` → `c`.
fn last_identifier(text: &str) -> String {
    let mut last = String::new();
    let mut current = String::new();
    for c in text.chars() {
        if is_ident_char(c) {
            current.push(c);
        } else if !current.is_empty() {
            last = std::mem::take(&mut current);
        }
    }
    if !current.is_empty() {
        last = current;
    }
    if last.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return String::new();
    }
    last
}

/// The first identifier of an expression, past `await`, `new`, `&`, `mut`, `self.`.
fn leading_identifier(text: &str) -> String {
    for word in identifiers(text) {
        if !matches!(
            word.as_str(),
            "await" | "new" | "mut" | "self" | "this" | "yield" | "async" | "Some" | "Ok"
        ) {
            return word;
        }
    }
    String::new()
}

fn identifiers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_string: Option<char> = None;
    for c in text.chars() {
        if let Some(q) = in_string {
            if c == q {
                in_string = None;
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            in_string = Some(c);
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if is_ident_char(c) {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.retain(|w| !w.chars().next().is_some_and(|c| c.is_ascii_digit()));
    out
}

/// A host from a URL, an env var or a config key in `text`.
fn target_in(text: &str) -> Option<Target> {
    if let Some(i) = text.find("://") {
        let rest = &text[i + 3..];
        let end = rest
            .find(['/', '"', '\'', '?', '`', ')', ',', ' ', '\n', '}'])
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let host = authority.rsplit('@').next().unwrap_or(authority);
        if !host.is_empty() && !host.contains(['{', '$', '%', '<']) {
            return Some(Target::Host(host.to_string()));
        }
    }
    for pattern in [
        "host=\"",
        "host='",
        "Addr: \"",
        "addr=\"",
        "host: \"",
        "host: '",
        "hostname=\"",
    ] {
        if let Some(i) = text.find(pattern) {
            let host: String = text[i + pattern.len()..]
                .chars()
                .take_while(|c| !matches!(c, '"' | '\''))
                .collect();
            if !host.is_empty() && !host.contains(['{', '$']) {
                return Some(Target::Host(host));
            }
        }
    }
    const ENV: &[&str] = &[
        "environ[",
        "environ.get(",
        "getenv(",
        "Getenv(",
        "LookupEnv(",
        "env::var(",
        "env.var(",
        "System.getenv(",
        "process.env.",
        "process.env[",
        "env(",
        "os.Getenv(",
    ];
    for pattern in ENV {
        if let Some(i) = text.find(pattern) {
            let name: String = text[i + pattern.len()..]
                .trim_start_matches(['"', '\'', '`', ' '])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                return Some(Target::EnvVar(name));
            }
        }
    }
    const CONFIG: &[&str] = &[
        "settings.",
        "config.",
        "cfg.",
        "conf.",
        "config[",
        "config.get(",
        "@Value(\"${",
        "properties.get",
    ];
    for pattern in CONFIG {
        if let Some(i) = text.find(pattern) {
            let key: String = text[i + pattern.len()..]
                .trim_start_matches(['"', '\'', ' ', '('])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                .collect();
            let key = key.trim_start_matches("get(").trim_matches('.').to_string();
            if !key.is_empty() && key != "get" {
                return Some(Target::ConfigKey(key));
            }
        }
    }
    None
}

/// A literal timeout near the word `timeout`, in milliseconds.
fn timeout_value(text: &str, language: SourceLanguage) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("timeout").or_else(|| lower.find("deadline"))?;
    let window: String = text[at..].chars().take(60).collect();
    let digits_at = window.find(|c: char| c.is_ascii_digit())?;
    let number: String = window[digits_at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = number.parse().ok()?;
    let w = window.to_ascii_lowercase();
    let ms = if has_any(&w, &["millis", "ms", "millisecond"]) {
        value
    } else if has_any(
        &w,
        &["from_secs", "ofseconds", "time.second", "seconds", "secs"],
    ) {
        value * 1000.0
    } else {
        match language {
            SourceLanguage::Python => value * 1000.0,
            SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => value,
            _ => return None,
        }
    };
    Some(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(name: &str, text: &str) -> Vec<FailurePoint> {
        let mut sources = SourceMap::new();
        let f = sources.add(name, text);
        let language = SourceLanguage::of(std::path::Path::new(name)).unwrap();
        scan_file(&sources, f, language, &PackageIndex::new()).points
    }

    #[test]
    fn python_calls_guards_and_targets() {
        let points = scan(
            "app.py",
            "import os, requests\nPAY = os.environ[\"PAYMENTS_URL\"]\n@app.route('/pay')\ndef pay(request):\n    r = requests.post(PAY + '/charge', timeout=2.5)\n    s = requests.get('http://stock:8080/items')\n    return r\n",
        );
        assert_eq!(points.len(), 2, "{points:#?}");
        assert_eq!(points[0].guards, vec![Guard::Timeout]);
        assert_eq!(points[0].timeout_ms, Some(2500));
        assert_eq!(points[0].target, Target::EnvVar("PAYMENTS_URL".into()));
        assert_eq!(points[0].path, CallPath::Request);
        assert_eq!(points[1].target, Target::Host("stock:8080".into()));
        assert!(points[1].guards.is_empty());
        assert_eq!((points[1].line, points[1].column), (6, 9));
    }

    #[test]
    fn a_client_made_in_another_module_brings_its_guards() {
        let mut sources = SourceMap::new();
        let clients = sources.add(
            "pkg/clients.py",
            "import requests\ndef make():\n    s = requests.Session()\n    s.mount('http://', HTTPAdapter(max_retries=Retry(3)))\n    return s\npay = make()\n",
        );
        let views = sources.add(
            "pkg/views.py",
            "from .clients import pay\n@app.get('/x')\ndef x():\n    return pay.get('http://payments:8080/', timeout=1)\n",
        );
        // Elsewhere, and not importing it: not consulted.
        let other = sources.add(
            "other/views.py",
            "@app.get('/y')\ndef y():\n    return pay.get('http://payments:8080/')\n",
        );
        let mut index = PackageIndex::new();
        for f in [clients, views, other] {
            index_file(&sources, f, SourceLanguage::Python, &mut index);
        }
        let points = scan_file(&sources, views, SourceLanguage::Python, &index).points;
        assert_eq!(points.len(), 1, "{points:#?}");
        assert_eq!(points[0].guards, vec![Guard::Timeout, Guard::Retry]);
        assert_eq!(points[0].target, Target::Host("payments:8080".into()));
        // Without the index the receiver is unknown and the call is not recognised.
        let alone = scan_file(
            &sources,
            views,
            SourceLanguage::Python,
            &PackageIndex::new(),
        );
        assert!(alone.points.is_empty(), "{:#?}", alone.points);
        let far = scan_file(&sources, other, SourceLanguage::Python, &index).points;
        assert!(far.is_empty(), "{far:#?}");
        assert_eq!(
            called_functions("a = pkg.NewClient(cfg, f(x)) + 1e3(2)"),
            vec!["NewClient", "f"]
        );
    }

    #[test]
    fn a_chain_is_one_call() {
        let points = scan(
            "main.rs",
            "async fn f(client: reqwest::Client) -> String {\n    client.get(\"http://prices/x\").timeout(D).send().await.unwrap().text().await.unwrap_or_default()\n}\n",
        );
        assert_eq!(points.len(), 1, "{points:#?}");
        assert!(points[0].guards.contains(&Guard::Timeout));
        assert!(points[0].guards.contains(&Guard::Fallback));
        assert_eq!(points[0].target, Target::Host("prices".into()));
    }

    #[test]
    fn unparsable_source_is_reported_and_the_rest_analysed() {
        let mut sources = SourceMap::new();
        let f = sources.add("bad.py", "def f(:\n    pass\nrequests.get('http://a/')\n");
        let scan = scan_file(&sources, f, SourceLanguage::Python, &PackageIndex::new());
        assert_eq!(scan.diagnostics.len(), 1);
        assert_eq!(scan.diagnostics[0].code, Code::SourceParse);
        assert_eq!(scan.points.len(), 1);
    }
}
