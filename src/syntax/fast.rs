//! A hand-written recursive-descent parser for the grammar in `grammar/pfi.pest`, tried first
//! because it is several times faster than pest on big scenarios (`benches/check.rs`).
//!
//! It follows the grammar exactly where it answers: the same ordered choices, pest's implicit
//! whitespace (blanks, newlines and comments between the tokens of non-atomic rules, only
//! blanks inside a setting) and the same spans, including pest's habit of ending a rule after
//! the whitespace that precedes an optional part that is absent. Wherever it is not sure —
//! any syntax error, and the rare inputs where pest would backtrack into another alternative
//! — it gives up (`Bail`) and `parse` runs pest, which stays the definition of the language
//! and writes every syntax error. A test runs both parsers over every shipped file and a few
//! thousand mangled variants and requires equal trees, spans and diagnostics whenever the
//! fast path answers.

use super::ast::*;
use super::literal::{MAX_NESTING, not_a_string, number_value, string_value};
use crate::diagnostic::{Diagnostic, FileId, Span};

/// The fast path gives up: pest decides.
pub(super) struct Bail;

type P<T> = Result<T, Bail>;

/// The file's tree and the problems found while building it, or `None` to let pest decide.
pub(super) fn parse(file: FileId, text: &str) -> Option<(File, Vec<Diagnostic>)> {
    if text.len() >= PARALLEL_BYTES
        && let Some(parsed) = parse_halves(file, text)
    {
        return Some(parsed);
    }
    parse_part(file, text, 0)
}

/// Files at least this big are parsed in two halves on two threads.
const PARALLEL_BYTES: usize = 512 * 1024;

/// Parses `text[offset..]` as a whole file would be parsed from there (spans are shifted by
/// `offset`).
fn parse_part(file: FileId, text: &str, offset: usize) -> Option<(File, Vec<Diagnostic>)> {
    let mut p = Fast {
        text,
        b: text.as_bytes(),
        pos: 0,
        offset,
        file,
        errors: Vec::new(),
        depth: 0,
        carriage_return_ends_comment: false,
    };
    let items = p.file().ok()?;
    // The nesting check (run before pest) ends line comments at a newline only; give such
    // files to it and to pest so that both always see the same brackets.
    if p.carriage_return_ends_comment {
        return None;
    }
    Some((File { items }, p.errors))
}

/// Splits the file before a declaration near its middle and parses both halves at once.
///
/// The split is a line that starts with a declaration keyword (`fault`, `resource`, ...). No
/// optional part of a declaration starts with one of those words, so a declaration never
/// continues past such a line unless a required part is still missing — and then the first
/// half fails. A line inside brackets or a block comment makes one half fail the same way.
/// So when both halves parse, the result is the whole file's parse; when one fails, the
/// caller parses the whole file in one go.
fn parse_halves(file: FileId, text: &str) -> Option<(File, Vec<Diagnostic>)> {
    let b = text.as_bytes();
    let split = memchr::memchr_iter(b'\n', &b[text.len() / 2..])
        .map(|i| text.len() / 2 + i + 1)
        .find(|&at| {
            let end = run(b, at, is_ident_char);
            ITEM_KEYWORDS.contains(&&text[at..end])
        })?;
    let (first, second) = text.split_at(split);
    let (a, b) = std::thread::scope(|scope| {
        let second = scope.spawn(|| parse_part(file, second, split));
        let first = parse_part(file, first, 0);
        (first, second.join().ok().flatten())
    });
    let ((mut head, mut errors), (tail, tail_errors)) = (a?, b?);
    head.items.extend(tail.items);
    errors.extend(tail_errors);
    Some((head, errors))
}

/// Collects a node's children on the stack, then `exact` moves them into a vector of exactly
/// their number: most settings hold one term and most blocks a few settings, and a vector
/// grown by pushing (or collected from an iterator) reserves room for at least four. On the
/// 10,000-resource benchmark that slack was a fifth of the syntax tree's memory.
type Gather<T, const N: usize> = smallvec::SmallVec<[T; N]>;

fn exact<T, const N: usize>(gathered: Gather<T, N>) -> Vec<T> {
    if gathered.spilled() {
        return gathered.into_vec();
    }
    let mut v = Vec::with_capacity(gathered.len());
    v.extend(gathered);
    v
}

struct Fast<'t> {
    text: &'t str,
    b: &'t [u8],
    pos: usize,
    /// Where `text` starts in the file.
    offset: usize,
    file: FileId,
    errors: Vec<Diagnostic>,
    /// Brackets open around the current position: past `MAX_NESTING` the fast path gives up,
    /// and the nesting check reports it as it does for pest.
    depth: usize,
    carriage_return_ends_comment: bool,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The end of the run of bytes from `at` that satisfy `f`.
fn run(b: &[u8], at: usize, f: impl Fn(u8) -> bool) -> usize {
    at + b.get(at..).map_or(0, |rest| {
        rest.iter().position(|c| !f(*c)).unwrap_or(rest.len())
    })
}

fn digits(b: &[u8], at: usize) -> usize {
    run(b, at, |c| c.is_ascii_digit())
}

fn alphas(b: &[u8], at: usize) -> usize {
    run(b, at, |c| c.is_ascii_alphabetic())
}

/// ipv4 = @{ ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+){3} }
fn ipv4_end(b: &[u8], at: usize) -> Option<usize> {
    let mut e = digits(b, at);
    if e == at {
        return None;
    }
    for _ in 0..3 {
        if b.get(e) != Some(&b'.') {
            return None;
        }
        let d = digits(b, e + 1);
        if d == e + 1 {
            return None;
        }
        e = d;
    }
    Some(e)
}

/// The keywords that start a declaration (everything else starts `a depends_on b`).
const ITEM_KEYWORDS: [&str; 14] = [
    "fault",
    "resource",
    "link",
    "import",
    "analysis",
    "experiment",
    "profile",
    "probe",
    "telemetry",
    "threshold",
    "predict",
    "pattern",
    "mitigate",
    "remediation",
];

impl Fast<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at(&self, c: u8) -> bool {
        self.peek() == Some(c)
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, self.offset + start, self.offset + end)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.at(c);
        self.pos += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> P<()> {
        if self.eat(c) { Ok(()) } else { Err(Bail) }
    }

    /// Consumes an opening bracket `c`.
    fn open(&mut self, c: u8) -> P<()> {
        self.expect(c)?;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Bail);
        }
        Ok(())
    }

    /// Consumes a closing bracket `c`.
    fn close(&mut self, c: u8) -> P<()> {
        self.expect(c)?;
        self.depth -= 1;
        Ok(())
    }

    /// pest's implicit whitespace: `WHITESPACE*` (blanks, newlines, comments, BOMs).
    fn skip(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\n' | b'\t' | b'\r' => self.pos += 1,
                b'/' => match self.b.get(self.pos + 1) {
                    Some(b'/') => {
                        self.pos = run(self.b, self.pos + 2, |c| c != b'\n' && c != b'\r');
                        self.carriage_return_ends_comment |= self.at(b'\r');
                    }
                    Some(b'*') => {
                        let body = &self.b[self.pos + 2..];
                        match body.windows(2).position(|w| w == b"*/") {
                            Some(n) => self.pos += 2 + n + 2,
                            None => return,
                        }
                    }
                    _ => return,
                },
                0xEF if self.b[self.pos..].starts_with("\u{FEFF}".as_bytes()) => self.pos += 3,
                _ => return,
            }
        }
    }

    /// `sp = _{ (" " | "\t")+ }`; whether it matched.
    fn sp(&mut self) -> bool {
        let start = self.pos;
        self.pos = run(self.b, start, |c| c == b' ' || c == b'\t');
        self.pos > start
    }

    fn ident_end(&self, at: usize) -> Option<usize> {
        is_ident_start(*self.b.get(at)?).then(|| run(self.b, at + 1, is_ident_char))
    }

    /// ident = @{ (ASCII_ALPHA | "_") ~ (ASCII_ALPHANUMERIC | "_")* }
    fn ident_opt(&mut self) -> Option<Ident> {
        let start = self.pos;
        let end = self.ident_end(start)?;
        self.pos = end;
        Some(Spanned::new(
            self.text[start..end].to_string(),
            self.span(start, end),
        ))
    }

    fn ident(&mut self) -> P<Ident> {
        self.ident_opt().ok_or(Bail)
    }

    /// kw_x = @{ "x" ~ !ident_char }
    fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let hit = self.b[self.pos..].starts_with(word.as_bytes())
            && !self.b.get(end).is_some_and(|c| is_ident_char(*c));
        if hit {
            self.pos = end;
        }
        hit
    }

    fn expect_keyword(&mut self, word: &str) -> P<()> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// file = { SOI ~ item* ~ EOI }
    fn file(&mut self) -> P<Vec<Item>> {
        // A declaration takes a few lines: sizing the vector from the line count saves
        // regrowing (and copying) it on big files.
        let lines = memchr::memchr_iter(b'\n', self.b).count();
        let mut items = Vec::with_capacity(lines / 3 + 1);
        self.skip();
        while self.pos < self.b.len() {
            items.push(self.item()?);
            self.skip();
        }
        Ok(items)
    }

    fn item(&mut self) -> P<Item> {
        let start = self.pos;
        let end = self.ident_end(start).ok_or(Bail)?;
        let word = &self.text[start..end];
        if !ITEM_KEYWORDS.contains(&word) {
            return self.dependency(start);
        }
        self.pos = end;
        self.skip();
        Ok(match word {
            "fault" => self.fault(start)?,
            "resource" => self.resource(start)?,
            "link" => self.link(start)?,
            "import" => {
                let path = self.string()?;
                Item::Import(Box::new(Import {
                    path,
                    span: self.span(start, self.pos),
                }))
            }
            "analysis" => {
                let path = self.string()?;
                Item::Analysis(Box::new(Analysis {
                    path,
                    span: self.span(start, self.pos),
                }))
            }
            "experiment" => {
                let name = self.string()?;
                self.skip();
                let settings = self.block()?;
                Item::Experiment(Box::new(Experiment {
                    name,
                    settings,
                    span: self.span(start, self.pos),
                }))
            }
            "profile" => {
                let name = self.declared_name()?;
                let kind = self.ident()?;
                self.skip();
                let settings = self.opt_block()?;
                Item::Profile(Box::new(Profile {
                    name,
                    kind,
                    settings,
                    span: self.span(start, self.pos),
                }))
            }
            "probe" => self.probe(start)?,
            "telemetry" => self.telemetry(start)?,
            "threshold" => self.threshold(start)?,
            "predict" => self.predict(start)?,
            "pattern" => Item::Pattern(Box::new(self.pattern(start)?)),
            "mitigate" => self.mitigate(start)?,
            _ => self.remediation(start)?,
        })
    }

    /// `ident ~ colon`, the start of most declarations (entered after the keyword and its
    /// whitespace; leaves the position after the whitespace that follows the colon).
    fn declared_name(&mut self) -> P<Ident> {
        let name = self.ident()?;
        self.skip();
        self.expect(b':')?;
        self.skip();
        Ok(name)
    }

    /// fault = { kw_fault ~ ident ~ colon ~ ident ~ kw_on ~ ident ~ block? }
    fn fault(&mut self, start: usize) -> P<Item> {
        let name = self.declared_name()?;
        let kind = self.ident()?;
        self.skip();
        self.expect_keyword("on")?;
        self.skip();
        let target = self.ident()?;
        self.skip();
        let settings = self.opt_block()?;
        Ok(Item::Fault(Box::new(Fault {
            name,
            kind,
            target,
            settings,
            span: self.span(start, self.pos),
        })))
    }

    /// resource = { kw_resource ~ ident ~ colon ~ resource_kind ~ block? }
    fn resource(&mut self, start: usize) -> P<Item> {
        let name = self.declared_name()?;
        let kind_start = self.pos;
        let kind = if self.keyword("process") {
            self.skip();
            ResourceKind::Process {
                argv: self.string_list()?,
            }
        } else if self.keyword("container") {
            self.skip();
            if self.keyword("label") {
                self.skip();
                ResourceKind::ContainerLabel {
                    selector: self.string()?,
                }
            } else {
                ResourceKind::Container {
                    name: self.string()?,
                }
            }
        } else if self.keyword("image") {
            self.skip();
            ResourceKind::Image {
                image: self.string()?,
            }
        } else if self.keyword("service") {
            self.skip();
            if self.keyword("label") {
                self.skip();
                ResourceKind::ServiceLabel {
                    selector: self.string()?,
                }
            } else {
                ResourceKind::Service {
                    name: self.string()?,
                }
            }
        } else {
            return Err(Bail);
        };
        let kind = Spanned::new(kind, self.span(kind_start, self.pos));
        self.skip();
        let settings = self.opt_block()?;
        Ok(Item::Resource(Box::new(Resource {
            name,
            kind,
            settings,
            span: self.span(start, self.pos),
        })))
    }

    /// link = { kw_link ~ ident ~ colon ~ link_kind ~ address ~ arrow ~ address ~ block? }
    fn link(&mut self, start: usize) -> P<Item> {
        let name = self.declared_name()?;
        let kind_start = self.pos;
        let kind = if self.keyword("tcp") || self.keyword("proxy") {
            LinkKind::Tcp
        } else if self.keyword("http") {
            LinkKind::Http
        } else {
            return Err(Bail);
        };
        let kind = Spanned::new(kind, self.span(kind_start, self.pos));
        self.skip();
        let listen = self.address()?;
        self.skip();
        if !self.b[self.pos..].starts_with(b"->") {
            return Err(Bail);
        }
        self.pos += 2;
        self.skip();
        let upstream = self.address()?;
        self.skip();
        let settings = self.opt_block()?;
        Ok(Item::Link(Box::new(Link {
            name,
            kind,
            listen,
            upstream,
            settings,
            span: self.span(start, self.pos),
        })))
    }

    /// dependency = { ident ~ kw_depends_on ~ ident ~ ("," ~ ident)* ~ via? }
    fn dependency(&mut self, start: usize) -> P<Item> {
        let from = self.ident()?;
        self.skip();
        self.expect_keyword("depends_on")?;
        self.skip();
        let mut to = vec![self.ident()?];
        loop {
            let save = self.pos;
            self.skip();
            if self.eat(b',') {
                self.skip();
                if let Some(id) = self.ident_opt() {
                    to.push(id);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        self.skip();
        let mut via = None;
        let save = self.pos;
        if self.keyword("via") {
            self.skip();
            via = self.ident_opt();
            if via.is_none() {
                self.pos = save;
            }
        }
        Ok(Item::Dependency(Box::new(Dependency {
            from,
            to,
            via,
            span: self.span(start, self.pos),
        })))
    }

    /// probe = { kw_probe ~ ident ~ colon ~ probe_kind ~ probe_inline* ~ block? }
    fn probe(&mut self, start: usize) -> P<Item> {
        let name = self.declared_name()?;
        let kind_start = self.pos;
        let kind = if self.keyword("http") {
            self.skip();
            let mut method = None;
            for m in ["get", "post", "put", "delete", "head", "patch"] {
                let end = self.pos + m.len();
                if self
                    .b
                    .get(self.pos..end)
                    .is_some_and(|w| w.eq_ignore_ascii_case(m.as_bytes()))
                {
                    method = Some(Spanned::new(
                        self.text[self.pos..end].to_ascii_uppercase(),
                        self.span(self.pos, end),
                    ));
                    self.pos = end;
                    self.skip();
                    break;
                }
            }
            ProbeKind::Http {
                method,
                url: self.string()?,
            }
        } else if self.keyword("tcp") {
            self.skip();
            ProbeKind::Tcp {
                address: self.address()?,
            }
        } else if self.keyword("command") {
            self.skip();
            ProbeKind::Command {
                argv: self.string_list()?,
            }
        } else {
            return Err(Bail);
        };
        let kind = Spanned::new(kind, self.span(kind_start, self.pos));
        self.skip();
        let settings = self.inline_then_block()?;
        Ok(Item::Probe(Box::new(Probe {
            name,
            kind,
            settings,
            span: self.span(start, self.pos),
        })))
    }

    /// telemetry = { kw_telemetry ~ ident ~ colon ~ ident ~ string ~ probe_inline* ~ block? }
    fn telemetry(&mut self, start: usize) -> P<Item> {
        let name = self.declared_name()?;
        let kind = self.ident()?;
        self.skip();
        let url = self.string()?;
        self.skip();
        let settings = self.inline_then_block()?;
        Ok(Item::Telemetry(Box::new(Telemetry {
            name,
            kind,
            url,
            settings,
            span: self.span(start, self.pos),
        })))
    }

    /// `probe_inline* ~ block?` (entered after whitespace), as one block.
    fn inline_then_block(&mut self) -> P<Block> {
        let mut settings = Block::default();
        // probe_inline = { probe_inline_key ~ expect_word* ~ term }
        loop {
            let key_start = self.pos;
            let Some(key_end) = self.ident_end(key_start) else {
                break;
            };
            if !matches!(
                &self.text[key_start..key_end],
                "every" | "timeout" | "expect"
            ) {
                break;
            }
            let key = Spanned::new(
                self.text[key_start..key_end].to_string(),
                self.span(key_start, key_end),
            );
            self.pos = key_end;
            self.skip();
            let mut terms = Vec::new();
            // expect_word = @{ ("status" | "body" | "stdout" | "contains") ~ !ident_char }
            while let Some(word_end) = self.ident_end(self.pos) {
                let word = &self.text[self.pos..word_end];
                if !matches!(word, "status" | "body" | "stdout" | "contains") {
                    break;
                }
                terms.push(Spanned::new(
                    Term::Ident(word.to_string()),
                    self.span(self.pos, word_end),
                ));
                self.pos = word_end;
                self.skip();
            }
            terms.push(self.term()?.ok_or(Bail)?);
            settings.settings.push(Setting {
                key,
                terms,
                span: self.span(key_start, self.pos),
            });
            self.skip();
        }
        if self.at(b'{') {
            let b = self.block()?;
            settings.span = b.span;
            settings.settings.extend(b.settings);
        }
        Ok(settings)
    }

    /// threshold = { kw_threshold ~ comparison ~ threshold_modifier* }
    fn threshold(&mut self, start: usize) -> P<Item> {
        let comparison = self.comparison()?;
        let mut threshold = Threshold {
            comparison,
            over: None,
            during: None,
            abort: false,
            abort_predicted: None,
            span: self.span(start, start),
        };
        self.skip();
        let mut first = true;
        loop {
            let save = self.pos;
            if !first {
                self.skip();
            }
            if self.keyword("over") {
                self.skip();
                threshold.over = Some(self.quantity().ok_or(Bail)?);
            } else if self.keyword("during") {
                self.skip();
                threshold.during = Some(self.ident()?);
            } else if self.keyword("abort") {
                // abort_predicted = { kw_abort ~ kw_predicted ~ kw_within ~ quantity }
                let after = self.pos;
                self.skip();
                if self.keyword("predicted") {
                    self.skip();
                    self.expect_keyword("within")?;
                    self.skip();
                    threshold.abort_predicted = Some(self.quantity().ok_or(Bail)?);
                } else {
                    self.pos = after;
                    threshold.abort = true;
                }
            } else {
                self.pos = save;
                break;
            }
            first = false;
        }
        threshold.span = self.span(start, self.pos);
        Ok(Item::Threshold(Box::new(threshold)))
    }

    /// predict = { kw_predict ~ predict_block }
    fn predict(&mut self, start: usize) -> P<Item> {
        // predict_block = { "{" ~ (pattern | setting_line)* ~ rbrace }
        let block_start = self.pos;
        self.open(b'{')?;
        let mut settings = Vec::new();
        let mut patterns = Vec::new();
        loop {
            self.skip();
            match self.peek() {
                Some(b'}') => {
                    self.close(b'}')?;
                    break;
                }
                Some(b';') => self.pos += 1,
                Some(c) if is_ident_start(c) => {
                    let line = self.pos;
                    if self.keyword("pattern") {
                        self.skip();
                        patterns.push(self.pattern(line)?);
                    } else {
                        settings.push(self.setting()?);
                        self.skip();
                        self.eat(b';');
                    }
                }
                _ => return Err(Bail),
            }
        }
        Ok(Item::Predict(Box::new(Predict {
            settings: Block {
                settings,
                span: Some(self.span(block_start, self.pos)),
            },
            patterns,
            span: self.span(start, self.pos),
        })))
    }

    /// pattern = { kw_pattern ~ ident ~ pattern_params? ~ kw_when ~ condition ~ predicts? ~ block? }
    fn pattern(&mut self, start: usize) -> P<Pattern> {
        let name = self.ident()?;
        self.skip();
        let mut params = Vec::new();
        // pattern_params = { "(" ~ ident ~ ("," ~ ident)* ~ ")" }
        if self.at(b'(') {
            self.open(b'(')?;
            self.skip();
            params.push(self.ident()?);
            loop {
                self.skip();
                if !self.eat(b',') {
                    break;
                }
                self.skip();
                params.push(self.ident()?);
            }
            self.close(b')')?;
            self.skip();
        }
        self.expect_keyword("when")?;
        self.skip();
        let condition = self.condition()?;
        self.skip();
        let mut predicts = None;
        if self.keyword("predicts") {
            self.skip();
            predicts = Some(self.ident()?);
            self.skip();
        }
        let settings = self.opt_block()?;
        Ok(Pattern {
            name,
            params,
            condition,
            predicts,
            settings,
            span: self.span(start, self.pos),
        })
    }

    /// mitigate = { kw_mitigate ~ mitigate_trigger ~ block }
    fn mitigate(&mut self, start: usize) -> P<Item> {
        let trigger_start = self.pos;
        let trigger = if self.keyword("on") {
            // on_predicted = { kw_on ~ kw_predicted ~ "(" ~ ident ~ ")" }
            self.skip();
            self.expect_keyword("predicted")?;
            self.skip();
            self.open(b'(')?;
            self.skip();
            let kind = self.ident()?;
            self.skip();
            self.close(b')')?;
            Trigger::Predicted(kind)
        } else if self.keyword("when") {
            self.skip();
            Trigger::When(self.condition()?)
        } else {
            return Err(Bail);
        };
        let trigger = Spanned::new(trigger, self.span(trigger_start, self.pos));
        self.skip();
        let actions = self.block()?;
        Ok(Item::Mitigate(Box::new(Mitigate {
            trigger,
            actions,
            span: self.span(start, self.pos),
        })))
    }

    /// remediation = { kw_remediation ~ kw_for ~ ident ~ string ~ block? }
    fn remediation(&mut self, start: usize) -> P<Item> {
        self.expect_keyword("for")?;
        self.skip();
        let mode = self.ident()?;
        self.skip();
        let text = self.string()?;
        self.skip();
        let settings = self.opt_block()?;
        Ok(Item::Remediation(Box::new(Remediation {
            mode,
            text,
            settings,
            span: self.span(start, self.pos),
        })))
    }

    // ------------------------------------------------------------ blocks and settings

    fn opt_block(&mut self) -> P<Block> {
        if self.at(b'{') {
            self.block()
        } else {
            Ok(Block::default())
        }
    }

    /// block = { "{" ~ setting_line* ~ rbrace }; setting_line = _{ setting ~ ";"? | ";" }
    fn block(&mut self) -> P<Block> {
        let start = self.pos;
        self.open(b'{')?;
        let mut settings: Gather<Setting, 8> = Gather::new();
        loop {
            self.skip();
            match self.peek() {
                Some(b'}') => {
                    self.close(b'}')?;
                    break;
                }
                Some(b';') => self.pos += 1,
                Some(c) if is_ident_start(c) => {
                    settings.push(self.setting()?);
                    self.skip();
                    self.eat(b';');
                }
                _ => return Err(Bail),
            }
        }
        Ok(Block {
            settings: exact(settings),
            span: Some(self.span(start, self.pos)),
        })
    }

    /// setting = ${ key ~ (sp ~ terms)? };
    /// terms = _{ term ~ (sp? ~ "," ~ sp? ~ term | sp ~ term)* }
    fn setting(&mut self) -> P<Setting> {
        let start = self.pos;
        let key = self.ident()?;
        let mut terms: Gather<Spanned<Term>, 4> = Gather::new();
        let save = self.pos;
        if self.sp() {
            match self.term()? {
                Some(t) => terms.push(t),
                None => self.pos = save,
            }
        }
        while !terms.is_empty() {
            let save = self.pos;
            self.sp();
            if self.eat(b',') {
                self.sp();
                if let Some(t) = self.term()? {
                    terms.push(t);
                    continue;
                }
                // `sp ~ term` cannot match at a comma either.
                self.pos = save;
                break;
            }
            self.pos = save;
            if self.sp()
                && let Some(t) = self.term()?
            {
                terms.push(t);
                continue;
            }
            self.pos = save;
            break;
        }
        Ok(Setting {
            key,
            terms: exact(terms),
            span: self.span(start, self.pos),
        })
    }

    // ------------------------------------------------------------ terms

    /// A term, `None` when none can start here (so pest's `term` fails too); `Bail` when one
    /// starts but does not follow the common path.
    fn term(&mut self) -> P<Option<Spanned<Term>>> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let node = match c {
            b'"' => Term::String(self.string()?.node),
            b'[' => Term::List(self.list_of(|_, t| Some(t))?),
            b'0'..=b'9' if self.address_ahead() => Term::Address(self.address()?.node),
            b'0'..=b'9' | b'+' | b'-' => match self.quantity() {
                Some(q) => q.node,
                None => Term::Op(self.op()?),
            },
            b'<' | b'>' | b'=' | b'!' => Term::Op(self.op()?),
            c if is_ident_start(c) => self.word_like()?,
            _ => return Ok(None),
        };
        Ok(Some(Spanned::new(node, self.span(start, self.pos))))
    }

    /// `&(ASCII_DIGIT+ ~ "." ~ ASCII_DIGIT+ ~ ".")`
    fn address_ahead(&self) -> bool {
        let e = digits(self.b, self.pos);
        if self.b.get(e) != Some(&b'.') {
            return false;
        }
        let f = digits(self.b, e + 1);
        f > e + 1 && self.b.get(f) == Some(&b'.')
    }

    /// op = @{ "<=" | ">=" | "==" | "!=" | "->" | "<" | ">" | "=" | "+" }
    fn op(&mut self) -> P<String> {
        for op in ["<=", ">=", "==", "!=", "->", "<", ">", "=", "+"] {
            if self.b[self.pos..].starts_with(op.as_bytes()) {
                self.pos += op.len();
                return Ok(op.to_string());
            }
        }
        Err(Bail)
    }

    /// quantity = ${ number ~ unit? }, `None` (nothing consumed) when no number starts here.
    fn quantity(&mut self) -> Option<Spanned<Term>> {
        let b = self.b;
        let start = self.pos;
        // number = @{ ("+" | "-")? ~ DIGIT+ ~ ("." ~ DIGIT+)? ~ (^"e" ~ ("+" | "-")? ~ DIGIT+)? }
        let mut i = start + usize::from(matches!(b.get(start), Some(b'+' | b'-')));
        let d = digits(b, i);
        if d == i {
            return None;
        }
        i = d;
        if b.get(i) == Some(&b'.') {
            let d = digits(b, i + 1);
            if d > i + 1 {
                i = d;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let j = i + 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
            let d = digits(b, j);
            if d > j {
                i = d;
            }
        }
        let number_end = i;
        // unit = _{ "%" | "/" ~ ASCII_ALPHA+ | ASCII_ALPHA+ ~ ("/" ~ ASCII_ALPHA+)? }
        let end = match b.get(i) {
            Some(b'%') => i + 1,
            Some(b'/') => {
                let e = alphas(b, i + 1);
                if e > i + 1 { e } else { i }
            }
            _ => {
                let e = alphas(b, i);
                if e > i && b.get(e) == Some(&b'/') {
                    let f = alphas(b, e + 1);
                    if f > e + 1 { f } else { e }
                } else {
                    e
                }
            }
        };
        let number_span = self.span(start, number_end);
        let value = number_value(&mut self.errors, &self.text[start..number_end], number_span);
        let unit = (end > number_end).then(|| self.text[number_end..end].to_string());
        self.pos = end;
        Some(Spanned::new(
            Term::Quantity { value, unit },
            self.span(start, end),
        ))
    }

    /// address = ${ host ~ ":" ~ port };
    /// host = @{ ipv4 | "[" ~ (ASCII_HEX_DIGIT | ":" | ".")+ ~ "]" | ident ~ ("." ~ ident)* }
    fn address(&mut self) -> P<Spanned<Address>> {
        let b = self.b;
        let start = self.pos;
        let host_end = if let Some(e) = ipv4_end(b, start) {
            e
        } else if b.get(start) == Some(&b'[') {
            let e = run(b, start + 1, |c| {
                c.is_ascii_hexdigit() || c == b':' || c == b'.'
            });
            if e == start + 1 || b.get(e) != Some(&b']') || self.depth + 1 > MAX_NESTING {
                return Err(Bail);
            }
            e + 1
        } else {
            let mut e = self.ident_end(start).ok_or(Bail)?;
            while b.get(e) == Some(&b'.') {
                match self.ident_end(e + 1) {
                    Some(f) => e = f,
                    None => break,
                }
            }
            e
        };
        if b.get(host_end) != Some(&b':') {
            return Err(Bail);
        }
        let port_start = host_end + 1;
        let port_end = digits(b, port_start);
        if port_end == port_start {
            return Err(Bail);
        }
        self.pos = port_end;
        Ok(Spanned::new(
            Address {
                host: self.text[start..host_end].to_string(),
                port: Spanned::new(
                    self.text[port_start..port_end].to_string(),
                    self.span(port_start, port_end),
                ),
            },
            self.span(start, port_end),
        ))
    }

    /// `word | call | address | path | ident` at an identifier.
    fn word_like(&mut self) -> P<Term> {
        let start = self.pos;
        let end = self.ident_end(start).ok_or(Bail)?;
        match self.b.get(end) {
            // call = ${ ident ~ call_args }
            Some(b'(') => {
                let name = Spanned::new(self.text[start..end].to_string(), self.span(start, end));
                self.pos = end;
                let args = self.call_args()?;
                Ok(Term::Call { name, args })
            }
            Some(b':' | b'.') => {
                if let Ok(address) = self.address() {
                    return Ok(Term::Address(address.node));
                }
                // path = @{ ident ~ ("." ~ ident)+ }
                let mut e = end;
                while self.b.get(e) == Some(&b'.') {
                    match self.ident_end(e + 1) {
                        Some(f) => e = f,
                        None => break,
                    }
                }
                if e == end {
                    return Err(Bail);
                }
                self.pos = e;
                Ok(Term::Path(
                    self.text[start..e].split('.').map(str::to_string).collect(),
                ))
            }
            // word = @{ ident ~ !("(" | ":" | ".") }
            _ => {
                self.pos = end;
                Ok(Term::Ident(self.text[start..end].to_string()))
            }
        }
    }

    /// call_args = !{ "(" ~ (arg ~ ("," ~ arg)*)? ~ ","? ~ ")" }; arg = ${ term ~ (sp ~ term)* }
    fn call_args(&mut self) -> P<Vec<Spanned<Vec<Spanned<Term>>>>> {
        self.open(b'(')?;
        self.skip();
        let mut args: Gather<_, 4> = Gather::new();
        if let Some(arg) = self.arg()? {
            args.push(arg);
            loop {
                let save = self.pos;
                self.skip();
                if self.eat(b',') {
                    self.skip();
                    if let Some(arg) = self.arg()? {
                        args.push(arg);
                        continue;
                    }
                }
                self.pos = save;
                break;
            }
        }
        self.skip();
        self.eat(b',');
        self.skip();
        self.close(b')')?;
        Ok(exact(args))
    }

    fn arg(&mut self) -> P<Option<Spanned<Vec<Spanned<Term>>>>> {
        let start = self.pos;
        let Some(first) = self.term()? else {
            return Ok(None);
        };
        let mut terms: Gather<_, 4> = Gather::new();
        terms.push(first);
        loop {
            let save = self.pos;
            if self.sp()
                && let Some(t) = self.term()?
            {
                terms.push(t);
                continue;
            }
            self.pos = save;
            break;
        }
        Ok(Some(Spanned::new(exact(terms), self.span(start, self.pos))))
    }

    /// list = !{ "[" ~ (term ~ ("," ~ term)*)? ~ ","? ~ "]" }, each term passed through `each`
    /// as soon as it is read (so diagnostics come in source order).
    fn list_of<T>(
        &mut self,
        mut each: impl FnMut(&mut Self, Spanned<Term>) -> Option<T>,
    ) -> P<Vec<T>> {
        self.open(b'[')?;
        self.skip();
        let mut out: Gather<T, 4> = Gather::new();
        if let Some(t) = self.term()? {
            out.extend(each(self, t));
            loop {
                let save = self.pos;
                self.skip();
                if self.eat(b',') {
                    self.skip();
                    if let Some(t) = self.term()? {
                        out.extend(each(self, t));
                        continue;
                    }
                }
                self.pos = save;
                break;
            }
        }
        self.skip();
        self.eat(b',');
        self.skip();
        self.close(b']')?;
        Ok(exact(out))
    }

    /// A list of strings (`process [...]`, `command [...]`); other items get a diagnostic.
    fn string_list(&mut self) -> P<Vec<Spanned<String>>> {
        self.list_of(|p, t| match t.node {
            Term::String(s) => Some(Spanned::new(s, t.span)),
            other => {
                p.errors.push(not_a_string(&other, t.span));
                None
            }
        })
    }

    /// string = ${ "\"" ~ string_inner ~ "\"" }
    fn string(&mut self) -> P<Spanned<String>> {
        let start = self.pos;
        self.expect(b'"')?;
        let inner = self.pos;
        loop {
            match self.peek().ok_or(Bail)? {
                b'"' => break,
                // "\\" ~ ANY: the escaped character's later bytes are never special.
                b'\\' if self.pos + 1 < self.b.len() => self.pos += 2,
                b'\\' | b'\n' | b'\r' => return Err(Bail),
                _ => self.pos += 1,
            }
        }
        let raw = &self.text[inner..self.pos];
        self.pos += 1;
        let span = self.span(start, self.pos);
        Ok(string_value(&mut self.errors, raw, span))
    }

    // ------------------------------------------------------------ conditions

    /// metric = @{ ident ~ ("." ~ ident)+ }
    fn metric(&mut self) -> P<Spanned<Vec<String>>> {
        let start = self.pos;
        let mut e = self.ident_end(start).ok_or(Bail)?;
        let first = e;
        while self.b.get(e) == Some(&b'.') {
            match self.ident_end(e + 1) {
                Some(f) => e = f,
                None => break,
            }
        }
        if e == first {
            return Err(Bail);
        }
        self.pos = e;
        Ok(Spanned::new(
            self.text[start..e].split('.').map(str::to_string).collect(),
            self.span(start, e),
        ))
    }

    /// cmp_op = @{ "<=" | ">=" | "==" | "!=" | "<" | ">" }
    fn cmp_op(&mut self) -> Option<Spanned<CmpOp>> {
        let start = self.pos;
        let op = ["<=", ">=", "==", "!=", "<", ">"]
            .into_iter()
            .find(|op| self.b[start..].starts_with(op.as_bytes()))?;
        self.pos += op.len();
        Some(Spanned::new(CmpOp::parse(op)?, self.span(start, self.pos)))
    }

    /// comparison = { metric ~ cmp_op ~ term }
    fn comparison(&mut self) -> P<Spanned<Comparison>> {
        let start = self.pos;
        let metric = self.metric()?;
        self.skip();
        let op = self.cmp_op().ok_or(Bail)?;
        self.skip();
        let value = self.term()?.ok_or(Bail)?;
        Ok(Spanned::new(
            Comparison { metric, op, value },
            self.span(start, self.pos),
        ))
    }

    /// condition = { or_cond }; or_cond = { and_cond ~ (kw_or ~ and_cond)* }
    fn condition(&mut self) -> P<Spanned<Condition>> {
        self.joined("or", Self::and_cond, Condition::Or)
    }

    /// and_cond = { not_cond ~ (kw_and ~ not_cond)* }
    fn and_cond(&mut self) -> P<Spanned<Condition>> {
        self.joined("and", Self::not_cond, Condition::And)
    }

    /// `part ~ (kw ~ part)*`; one part is returned as it is.
    fn joined(
        &mut self,
        kw: &str,
        part: fn(&mut Self) -> P<Spanned<Condition>>,
        node: fn(Vec<Spanned<Condition>>) -> Condition,
    ) -> P<Spanned<Condition>> {
        let start = self.pos;
        let mut parts = vec![part(self)?];
        self.skip();
        loop {
            let save = self.pos;
            if parts.len() > 1 {
                self.skip();
            }
            if !self.keyword(kw) {
                self.pos = save;
                break;
            }
            self.skip();
            parts.push(part(self)?);
        }
        if parts.len() == 1 {
            return parts.pop().ok_or(Bail);
        }
        Ok(Spanned::new(node(parts), self.span(start, self.pos)))
    }

    /// not_cond = { negation? ~ atom_cond };
    /// atom_cond = _{ "(" ~ condition ~ ")" | compare | trend }
    fn not_cond(&mut self) -> P<Spanned<Condition>> {
        let start = self.pos;
        let negated = self.keyword("not");
        if negated {
            self.skip();
        }
        let inner = if self.at(b'(') {
            self.open(b'(')?;
            self.skip();
            let c = self.condition()?;
            self.skip();
            self.close(b')')?;
            c
        } else {
            let metric = self.metric()?;
            self.skip();
            if let Some(op) = self.cmp_op() {
                // compare = { metric ~ cmp_op ~ term }
                self.skip();
                let value = self.term()?.ok_or(Bail)?;
                let span = self.span(metric.span.start, self.pos);
                Spanned::new(Condition::Compare(Comparison { metric, op, value }), span)
            } else {
                // trend = { metric ~ trend_word }
                let word_start = self.pos;
                let trend = if self.keyword("rising") {
                    TrendWord::Rising
                } else if self.keyword("falling") {
                    TrendWord::Falling
                } else if self.keyword("flat") {
                    TrendWord::Flat
                } else if self.keyword("anomalous") {
                    TrendWord::Anomalous
                } else {
                    return Err(Bail);
                };
                let span = self.span(metric.span.start, self.pos);
                Spanned::new(
                    Condition::Trend {
                        metric,
                        trend: Spanned::new(trend, self.span(word_start, self.pos)),
                    },
                    span,
                )
            }
        };
        if negated {
            Ok(Spanned::new(
                Condition::Not(Box::new(inner)),
                self.span(start, self.pos),
            ))
        } else {
            Ok(inner)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fast path against pest, the reference: whenever the fast path answers, its tree,
    //! every span in it and its diagnostics must be pest's.

    use super::*;
    use crate::syntax::parse_with_pest;
    use rand::{Rng, SeedableRng};
    use std::path::{Path, PathBuf};

    /// Every span of the tree, in a fixed order (`Spanned` equality ignores spans).
    #[derive(Default)]
    struct Spans(Vec<(&'static str, usize, usize)>);

    impl Spans {
        fn add(&mut self, what: &'static str, span: Span) {
            self.0.push((what, span.start, span.end));
        }

        fn block(&mut self, b: &Block) {
            if let Some(s) = b.span {
                self.add("block", s);
            }
            for s in &b.settings {
                self.add("setting", s.span);
                self.add("key", s.key.span);
                s.terms.iter().for_each(|t| self.term(t));
            }
        }

        fn term(&mut self, t: &Spanned<Term>) {
            self.add("term", t.span);
            match &t.node {
                Term::Address(a) => self.add("port", a.port.span),
                Term::List(items) => items.iter().for_each(|i| self.term(i)),
                Term::Call { name, args } => {
                    self.add("call", name.span);
                    for a in args {
                        self.add("arg", a.span);
                        a.node.iter().for_each(|t| self.term(t));
                    }
                }
                _ => {}
            }
        }

        fn address(&mut self, a: &Spanned<Address>) {
            self.add("address", a.span);
            self.add("port", a.port.span);
        }

        fn comparison(&mut self, c: &Comparison) {
            self.add("metric", c.metric.span);
            self.add("op", c.op.span);
            self.term(&c.value);
        }

        fn condition(&mut self, c: &Spanned<Condition>) {
            self.add("condition", c.span);
            match &c.node {
                Condition::Compare(cmp) => self.comparison(cmp),
                Condition::Trend { metric, trend } => {
                    self.add("metric", metric.span);
                    self.add("trend", trend.span);
                }
                Condition::Not(inner) => self.condition(inner),
                Condition::And(parts) | Condition::Or(parts) => {
                    parts.iter().for_each(|p| self.condition(p));
                }
            }
        }

        fn pattern(&mut self, p: &Pattern) {
            self.add("pattern", p.span);
            self.add("name", p.name.span);
            p.params.iter().for_each(|i| self.add("param", i.span));
            self.condition(&p.condition);
            if let Some(i) = &p.predicts {
                self.add("predicts", i.span);
            }
            self.block(&p.settings);
        }

        fn item(&mut self, item: &Item) {
            self.add("item", item.span());
            match item {
                Item::Import(x) => self.add("string", x.path.span),
                Item::Analysis(x) => self.add("analysis", x.path.span),
                Item::Experiment(x) => {
                    self.add("string", x.name.span);
                    self.block(&x.settings);
                }
                Item::Resource(x) => {
                    self.add("name", x.name.span);
                    self.add("kind", x.kind.span);
                    match &x.kind.node {
                        ResourceKind::Process { argv } => {
                            argv.iter().for_each(|a| self.add("arg", a.span));
                        }
                        ResourceKind::Container { name: s }
                        | ResourceKind::ContainerLabel { selector: s }
                        | ResourceKind::Image { image: s }
                        | ResourceKind::Service { name: s }
                        | ResourceKind::ServiceLabel { selector: s } => self.add("string", s.span),
                    }
                    self.block(&x.settings);
                }
                Item::Link(x) => {
                    self.add("name", x.name.span);
                    self.add("kind", x.kind.span);
                    self.address(&x.listen);
                    self.address(&x.upstream);
                    self.block(&x.settings);
                }
                Item::Dependency(x) => {
                    self.add("from", x.from.span);
                    x.to.iter().for_each(|i| self.add("to", i.span));
                    if let Some(v) = &x.via {
                        self.add("via", v.span);
                    }
                }
                Item::Fault(x) => {
                    self.add("name", x.name.span);
                    self.add("kind", x.kind.span);
                    self.add("target", x.target.span);
                    self.block(&x.settings);
                }
                Item::Profile(x) => {
                    self.add("name", x.name.span);
                    self.add("kind", x.kind.span);
                    self.block(&x.settings);
                }
                Item::Probe(x) => {
                    self.add("name", x.name.span);
                    self.add("kind", x.kind.span);
                    match &x.kind.node {
                        ProbeKind::Http { method, url } => {
                            if let Some(m) = method {
                                self.add("method", m.span);
                            }
                            self.add("url", url.span);
                        }
                        ProbeKind::Tcp { address } => self.address(address),
                        ProbeKind::Command { argv } => {
                            argv.iter().for_each(|a| self.add("arg", a.span));
                        }
                    }
                    self.block(&x.settings);
                }
                Item::Telemetry(x) => {
                    self.add("name", x.name.span);
                    self.add("kind", x.kind.span);
                    self.add("url", x.url.span);
                    self.block(&x.settings);
                }
                Item::Threshold(x) => {
                    self.add("comparison", x.comparison.span);
                    self.comparison(&x.comparison.node);
                    if let Some(o) = &x.over {
                        self.term(o);
                    }
                    if let Some(d) = &x.during {
                        self.add("during", d.span);
                    }
                }
                Item::Predict(x) => {
                    self.block(&x.settings);
                    x.patterns.iter().for_each(|p| self.pattern(p));
                }
                Item::Pattern(x) => self.pattern(x),
                Item::Mitigate(x) => {
                    self.add("trigger", x.trigger.span);
                    match &x.trigger.node {
                        Trigger::Predicted(i) => self.add("kind", i.span),
                        Trigger::When(c) => self.condition(c),
                    }
                    self.block(&x.actions);
                }
                Item::Remediation(x) => {
                    self.add("mode", x.mode.span);
                    self.add("text", x.text.span);
                    self.block(&x.settings);
                }
            }
        }
    }

    fn spans(file: &File) -> Vec<(&'static str, usize, usize)> {
        let mut s = Spans::default();
        file.items.iter().for_each(|i| s.item(i));
        s.0
    }

    /// Compares the fast path with pest on `text`; whether the fast path answered.
    fn same_as_pest(label: &str, text: &str) -> bool {
        let file = FileId(0);
        let Some((fast, fast_errors)) = parse(file, text) else {
            return false;
        };
        assert!(
            crate::syntax::parser::check_nesting(file, text).is_none(),
            "{label}: the fast path accepted what the nesting check rejects"
        );
        let (reference, errors) = match parse_with_pest(file, text) {
            Ok(r) => r,
            Err(e) => panic!("{label}: the fast path accepted what pest rejects: {e:?}\n{text}"),
        };
        assert_eq!(fast, reference, "{label}: trees differ\n{text}");
        let (a, b) = (spans(&fast), spans(&reference));
        if a != b {
            let at = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            panic!(
                "{label}: spans differ at #{at}: fast {:?}, pest {:?}\n{text}",
                a.get(at),
                b.get(at)
            );
        }
        assert_eq!(
            format!("{fast_errors:?}"),
            format!("{errors:?}"),
            "{label}: diagnostics differ\n{text}"
        );
        true
    }

    fn shipped() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut dirs: Vec<PathBuf> = ["experiments", "examples", "stdlib", "tests/fixtures"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "pfi") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn every_shipped_file_takes_the_fast_path_and_matches_pest() {
        let files = shipped();
        assert!(files.len() > 20, "found only {} .pfi files", files.len());
        let mut answered = 0;
        let mut valid = 0;
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            let label = path.display().to_string();
            let fast = same_as_pest(&label, &text);
            answered += usize::from(fast);
            if parse_with_pest(FileId(0), &text).is_ok() {
                valid += 1;
                assert!(fast, "{label}: valid, but the fast path gave up");
            }
        }
        assert!(valid > 20 && answered == valid, "{answered} of {valid}");
    }

    #[test]
    fn tricky_inputs_match_pest() {
        let cases = [
            // Spans that end after the whitespace before an absent optional part.
            "resource a: process [\"x\"]   \n\n// c\n  fault f: pause on a  \n",
            "a depends_on b , c  via l  \n a depends_on b,\n c\nx depends_on y  ",
            "threshold a.b < 5ms   over 10s  abort during x\nthreshold a.b >= 1",
            "threshold a.b < 5ms abort predicted within 30s\nthreshold c.d > 1 abort  predicted   within 2m over 5s",
            "threshold a.b < 5ms abort abort predicted within 1s",
            "probe p: http GeT \"http://x/\" every 1s\n timeout 2s  \nprobe q: tcp [::1]:80 { expect 200 }",
            "probe c: command [\"a\", \"b\",] expect 0\ntelemetry t: prometheus \"u\" every 5s {\n}",
            "predict { window 5m; pattern p(a, b) when a.x > 1 and not (b.y rising or c.d < 2) predicts leak { min_confidence 0.5 }\n x 1 }",
            "pattern q when not a.b anomalous\npattern r when (a.b flat) predicts crash",
            "mitigate on predicted ( leak ) { scale db cpu +1 }\nmitigate when a.b > 2 and c.d falling {\n restart x\n}",
            "remediation for crash \"do \\\"this\\\"\" { applies_to x }",
            "experiment \"e\" { duration 1m; seed 7 ;; }",
            "fault f: latency on l { delay normal(120ms,\n 40ms) , uniform( 1 , 2 , ) ; at 1s, 2s 3s\n lasting 5s }",
            "fault f: x on y { a 1e3 2E-2ms -40ms +1 5% 3/m 1MiB/s 2e 2em }",
            "fault f: x on y { a 127.0.0.1:80 db:5432 a.b.c a.b:1 [] [,] [1, [2, \"s\"]] f() }",
            "fault f: x on y { a <= >= == != -> < > = + \"\\u{41}\\t\" }",
            "fault f: x on y { a \"bad \\q escape\" 1e999 }",
            "resource r: process [\"a\", 1, b] /* block\ncomment */ resource s: container label \"k=v\"\nresource t: image \"i:1\" { criticality high }",
            "\u{feff}link l: http 127.0.0.1:0 -> api:8080 { error 503 rate 10% when method GET }",
            "link l: proxy localhost:1 -> [::1]:2",
            "import \"std/patterns\"\nimport \"./x.pfi\"",
            "analysis \"src/\"  // code\nanalysis\n\"../app\"",
            "profile p: latency { delay 5ms }",
            "probe h: http \"https://x/\" expect status 200 expect body contains \"ok\"  every 1s\nthreshold h.p99 < 1s",
            "probe c: command [\"a\"] expect stdout contains \"PONG\" { expect status 3 }\nprobe d: tcp x:1 expect statusx",
            // Rejected by pest: the fast path must give up, not answer.
            "fault f: x on y { a b, }",
            "fault f: x on y { a f(1 }",
            "fault f: x on y { a 1.2.3 }",
            "fault depends_on x",
            "fault f: x on y { a foo: }",
            "threshold a.b < 1 over x",
            "resource r: process [\"a\" \"b\"]",
            "\"unterminated",
            "/* open comment",
            "fault f: x on y { a - }",
            "probe p: tcp x:1 expect body contains",
            "threshold a.b < 5ms abort predicted\n",
            "threshold a.b < 5ms abort predicted within x\n",
            "threshold a.b < 5ms abort predicted within\n30s",
            "analysis src",
            "analysis \"a\" \"b\"",
            // The keyword is also a name: `analysis` as a dependency's name.
            "analysis depends_on db\nx depends_on analysis",
        ];
        for (i, text) in cases.iter().enumerate() {
            same_as_pest(&format!("case {i}"), text);
        }
        // The valid ones above must take the fast path.
        for text in &cases[..23] {
            assert!(
                parse_with_pest(FileId(0), text).is_ok(),
                "pest rejects {text:?}"
            );
            assert!(parse(FileId(0), text).is_some(), "gave up on {text:?}");
        }
    }

    #[test]
    fn nesting_past_the_limit_and_odd_comments_go_to_pest() {
        let nested = |n: usize| {
            format!(
                "fault f: x on y {{ a {}1{} }}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // The block's brace is one level.
        assert!(same_as_pest("63 lists", &nested(MAX_NESTING - 1)));
        assert!(parse(FileId(0), &nested(MAX_NESTING)).is_none());
        assert!(crate::syntax::parse(FileId(0), &nested(MAX_NESTING)).is_err());
        let calls = format!(
            "fault f: x on y {{ a {}1{} }}",
            "f(".repeat(70),
            ")".repeat(70)
        );
        assert!(parse(FileId(0), &calls).is_none());
        // A line comment that a carriage return ends: the nesting check reads on to the
        // newline, so the file goes the old way.
        let text = "fault f: x on y // c\r{ a 1 }\n";
        assert!(parse(FileId(0), text).is_none());
        assert!(parse_with_pest(FileId(0), text).is_ok());
    }

    /// `n` bytes or more of dependency lines (no line starts a keyword declaration).
    fn filler(n: usize) -> String {
        let mut s = String::new();
        let mut i = 0;
        while s.len() < n {
            s.push_str(&format!("r{i} depends_on r{} // {i}\n", i + 1));
            i += 1;
        }
        s
    }

    #[test]
    fn big_files_parsed_in_halves_equal_the_whole_file_parse() {
        let mut text = String::new();
        let mut n = 0;
        while text.len() < 2 * PARALLEL_BYTES {
            for path in shipped().iter().filter(|p| {
                p.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments"))
            }) {
                text.push_str(&std::fs::read_to_string(path).unwrap());
                text.push('\n');
                n += 1;
            }
        }
        assert!(n > 10);
        let halves = parse_halves(FileId(0), &text).expect("both halves parse");
        let whole = parse_part(FileId(0), &text, 0).expect("the whole file parses");
        assert_eq!(halves.0, whole.0);
        assert_eq!(spans(&halves.0), spans(&whole.0));
        assert_eq!(format!("{:?}", halves.1), format!("{:?}", whole.1));
        assert!(same_as_pest("many experiments", &text));
    }

    #[test]
    fn a_split_inside_a_declaration_makes_the_halves_give_up() {
        // The only keyword line comes right after the middle, but it is the `via` of the
        // dependency before it: pest reads `via fault` and then fails at `f:`.
        for tricky in [
            "a depends_on b via\nfault f: x on y\n",
            "threshold a.b < 1 during\nfault f: x on y\n",
            "a depends_on b,\nfault f: x on y\n",
            "resource r: process [\n\"x\",\nfault f: x on y\n]\n",
            // Lines that start with a word that continues the declaration before them.
            "a depends_on b\nvia depends_on c\n",
            "threshold a.b < 1\nabort depends_on x\n",
        ] {
            let text = format!(
                "{}{tricky}{}",
                filler(PARALLEL_BYTES / 2 + 40_000),
                filler(PARALLEL_BYTES / 2)
            );
            assert!(parse_halves(FileId(0), &text).is_none(), "{tricky:?}");
            let fast = parse(FileId(0), &text).is_some();
            let pest = parse_with_pest(FileId(0), &text).is_ok();
            assert_eq!(fast, pest, "{tricky:?}");
        }
    }

    #[test]
    fn mangled_shipped_files_match_pest_whenever_the_fast_path_answers() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let pool = b"{}[]()\":,;/*+-%.\\\n\t #0aZ_e";
        let mut answered = 0;
        let mut total = 0;
        for path in shipped() {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.is_empty() {
                continue;
            }
            for i in 0..40 {
                let mut bytes = text.clone().into_bytes();
                for _ in 0..1 + i % 3 {
                    let at = rng.random_range(0..bytes.len());
                    match rng.random_range(0..4) {
                        0 => bytes[at] = pool[rng.random_range(0..pool.len())],
                        1 => {
                            bytes.remove(at);
                        }
                        2 => bytes.insert(at, pool[rng.random_range(0..pool.len())]),
                        _ => {
                            let len = rng.random_range(1..20).min(bytes.len() - at);
                            bytes.drain(at..at + len);
                        }
                    }
                    if bytes.is_empty() {
                        break;
                    }
                }
                let Ok(mangled) = String::from_utf8(bytes) else {
                    continue;
                };
                total += 1;
                let label = format!("{} variant {i}", path.display());
                answered += usize::from(same_as_pest(&label, &mangled));
            }
        }
        assert!(total > 1000, "only {total} variants");
        // Most single-byte changes still parse; the fast path must answer for many of them.
        assert!(
            answered > total / 5,
            "the fast path answered {answered} of {total}"
        );
    }
}
