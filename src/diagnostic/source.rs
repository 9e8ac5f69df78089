//! Source files and byte spans into them.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Index of a file in a `SourceMap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span { file, start, end }
    }

    /// The smallest span covering both (in the same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
    /// `chunk_lines[c]`: the line that holds byte `c << CHUNK_BITS`. `line_col` searches only
    /// the lines of one chunk: a big file's plan asks for thousands of locations, and a
    /// binary search over every line start misses the cache at each step.
    chunk_lines: Vec<u32>,
}

const CHUNK_BITS: u32 = 12;

/// Every file read while compiling a scenario (the scenario and its imports).
#[derive(Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> FileId {
        let text = text.into();
        // memchr: several times fewer instructions than `match_indices` on many short lines.
        // Counted first so that the index is allocated once, at its size.
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
        let mut line_starts = Vec::with_capacity(lines + 1);
        line_starts.push(0);
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        let mut chunk_lines = Vec::with_capacity((text.len() >> CHUNK_BITS) + 1);
        let mut line = 0;
        for chunk in 0..=(text.len() >> CHUNK_BITS) {
            let at = chunk << CHUNK_BITS;
            while line + 1 < line_starts.len() && line_starts[line + 1] <= at {
                line += 1;
            }
            chunk_lines.push(line as u32);
        }
        self.files.push(SourceFile {
            path: path.into(),
            text,
            line_starts,
            chunk_lines,
        });
        FileId((self.files.len() - 1) as u32)
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.files[file.0 as usize].path
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].text
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path == path)
            .map(|i| FileId(i as u32))
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        let f = &self.files[file.0 as usize];
        let mut offset = offset.min(f.text.len());
        while !f.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let chunk = offset >> CHUNK_BITS;
        let first = f.chunk_lines[chunk] as usize;
        let last = f
            .chunk_lines
            .get(chunk + 1)
            .map_or(f.line_starts.len() - 1, |&l| l as usize);
        let line = first
            + match f.line_starts[first..=last].binary_search(&offset) {
                Ok(i) => i,
                Err(i) => i - 1,
            };
        let start = f.line_starts[line];
        let col = f
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The bytes of every file together.
    pub fn total_len(&self) -> usize {
        self.files.iter().map(|f| f.text.len()).sum()
    }

    /// `span` moved inside its file's text and onto character boundaries (the start down, the
    /// end up), so that every renderer can slice with it: a span from a lossy decoding, from
    /// another file's offsets or past the end would otherwise split a character.
    pub fn clamp(&self, span: Span) -> Span {
        let Some(f) = self.files.get(span.file.0 as usize) else {
            return Span::new(span.file, 0, 0);
        };
        let text = &f.text;
        let mut start = span.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end.clamp(start, text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        Span::new(span.file, start, end)
    }

    /// Whether `file` is a file of this map.
    pub fn contains(&self, file: FileId) -> bool {
        (file.0 as usize) < self.files.len()
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        self.text(span.file).get(span.start..span.end).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let mut map = SourceMap::new();
        let f = map.add("a.pfi", "ab\ncdé\nx");
        assert_eq!(map.line_col(f, 0), (1, 1));
        assert_eq!(map.line_col(f, 3), (2, 1));
        assert_eq!(map.line_col(f, 7), (2, 4));
        assert_eq!(map.line_col(f, 8), (3, 1));
        assert_eq!(map.line_col(f, 100), (3, 2));
        // Inside `é`: the column of the character that holds the byte.
        assert_eq!(map.line_col(f, 6), (2, 3));
    }

    #[test]
    fn clamped_spans_lie_on_character_boundaries_inside_the_text() {
        let mut map = SourceMap::new();
        let f = map.add("a.pfi", "x\u{FFFD}y");
        assert_eq!(map.clamp(Span::new(f, 1, 2)), Span::new(f, 1, 4));
        assert_eq!(map.clamp(Span::new(f, 2, 3)), Span::new(f, 1, 4));
        assert_eq!(map.clamp(Span::new(f, 9, 3)), Span::new(f, 5, 5));
        assert_eq!(map.clamp(Span::new(f, 4, 1)), Span::new(f, 4, 4));
        assert_eq!(
            map.clamp(Span::new(FileId(7), 1, 2)),
            Span::new(FileId(7), 0, 0)
        );
    }

    #[test]
    fn chunked_line_lookup_matches_a_plain_scan_across_chunk_boundaries() {
        // Short lines, a line longer than a chunk, empty lines, and an end on a chunk edge.
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&"x".repeat(i % 7));
            text.push('\n');
        }
        text.push_str(&"y".repeat(9000));
        text.push_str("\n\n\n");
        text.push_str(&"z".repeat((1 << CHUNK_BITS) * 8 - text.len()));
        let mut map = SourceMap::new();
        let f = map.add("big.pfi", text.clone());
        let (mut line, mut col) = (1, 1);
        for (offset, c) in text.char_indices() {
            assert_eq!(map.line_col(f, offset), (line, col), "offset {offset}");
            if c == '\n' {
                (line, col) = (line + 1, 1);
            } else {
                col += 1;
            }
        }
        assert_eq!(map.line_col(f, text.len()), (line, col));
    }
}
