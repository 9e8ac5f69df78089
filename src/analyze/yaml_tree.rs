//! YAML documents as a small tree whose every node keeps its byte span in the source map, so
//! that each construct the templates' readers meet can be reported at its line and column.
//! saphyr parses (YAML 1.2, maintained); its markers count characters, converted here once.

use crate::diagnostic::{Code, Diagnostic, FileId, SourceMap, Span};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

/// One YAML node with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlTree {
    pub span: Span,
    pub value: YamlValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum YamlValue {
    /// Every scalar as text (`5432`, `true`, `"a b"`); null is the empty string.
    Scalar(String),
    Sequence(Vec<YamlTree>),
    /// Keys in document order.
    Mapping(Vec<(YamlTree, YamlTree)>),
    /// An alias, a tag or a value saphyr could not resolve: what this reader does not map.
    Unsupported(&'static str),
}

impl YamlTree {
    /// The scalar's text.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            YamlValue::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(YamlTree, YamlTree)] {
        match &self.value {
            YamlValue::Mapping(m) => m,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[YamlTree] {
        match &self.value {
            YamlValue::Sequence(s) => s,
            _ => &[],
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&YamlTree> {
        self.entries()
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    }

    /// A scalar, or the items of a sequence of scalars joined by spaces (`command` in both
    /// forms).
    pub fn words(&self) -> Vec<String> {
        match &self.value {
            YamlValue::Scalar(s) => s.split_whitespace().map(str::to_string).collect(),
            YamlValue::Sequence(items) => items
                .iter()
                .filter_map(|i| i.text().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_mapping(&self) -> bool {
        matches!(self.value, YamlValue::Mapping(_))
    }
}

/// Parses every document of `file` (already in `sources`). A syntax error is one diagnostic
/// at its line and column.
pub fn parse_documents(sources: &SourceMap, file: FileId) -> Result<Vec<YamlTree>, Diagnostic> {
    let text = sources.text(file);
    let chars = CharOffsets::new(text);
    match MarkedYaml::load_from_str(text) {
        Ok(docs) => Ok(docs.iter().map(|d| convert(d, file, &chars)).collect()),
        Err(e) => {
            let at = chars.byte(e.marker().index());
            Err(
                Diagnostic::error(Code::Syntax, format!("malformed YAML: {}", e.info()))
                    .at(Span::new(file, at, at), "here")
                    .help("fix the YAML syntax (indentation, a missing `:` or quote)"),
            )
        }
    }
}

fn convert(node: &MarkedYaml<'_>, file: FileId, chars: &CharOffsets) -> YamlTree {
    let start = chars.byte(node.span.start.index());
    let end = chars.byte(node.span.end.index()).max(start);
    let span = Span::new(file, start, end);
    let value = match &node.data {
        YamlData::Value(scalar) => YamlValue::Scalar(scalar_text(scalar)),
        YamlData::Representation(text, _, _) => YamlValue::Scalar(text.to_string()),
        YamlData::Sequence(items) => {
            YamlValue::Sequence(items.iter().map(|i| convert(i, file, chars)).collect())
        }
        YamlData::Mapping(map) => YamlValue::Mapping(
            map.iter()
                .map(|(k, v)| (convert(k, file, chars), convert(v, file, chars)))
                .collect(),
        ),
        YamlData::Tagged(..) => YamlValue::Unsupported("a tagged value"),
        YamlData::Alias(_) => YamlValue::Unsupported("an alias"),
        YamlData::BadValue => YamlValue::Unsupported("a value YAML cannot resolve"),
    };
    YamlTree { span, value }
}

fn scalar_text(scalar: &Scalar<'_>) -> String {
    match scalar {
        Scalar::Null => String::new(),
        Scalar::Boolean(b) => b.to_string(),
        Scalar::Integer(i) => i.to_string(),
        Scalar::FloatingPoint(f) => f.to_string(),
        Scalar::String(s) => s.to_string(),
    }
}

/// Character index → byte offset (saphyr's markers count characters).
struct CharOffsets {
    bytes: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        CharOffsets {
            bytes: text.char_indices().map(|(b, _)| b).collect(),
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.bytes.get(char_index).copied().unwrap_or(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_keys_and_values_in_bytes() {
        let mut map = SourceMap::new();
        let f = map.add("c.yml", "é: 1\nservices:\n  db:\n    image: postgres\n");
        let docs = parse_documents(&map, f).unwrap();
        let db = docs[0].get("services").unwrap().get("db").unwrap();
        let image = db.get("image").unwrap();
        assert_eq!(image.text(), Some("postgres"));
        assert_eq!(map.slice(image.span), "postgres");
        assert_eq!(map.line_col(f, image.span.start), (4, 12));
    }

    #[test]
    fn malformed_yaml_is_one_located_error() {
        let mut map = SourceMap::new();
        let f = map.add("c.yml", "services:\n  db: [a, b\n  web: x\n");
        let err = parse_documents(&map, f).unwrap_err();
        assert!(err.message.contains("malformed YAML"), "{}", err.message);
        let (line, _) = map.line_col(f, err.primary_span().unwrap().start);
        assert!(line >= 2, "line {line}");
    }
}
