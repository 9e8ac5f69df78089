//! The languages `pfi analyze` reads, each with its tree-sitter grammar and the node kinds
//! the call finder needs (calls, member accesses, functions, bindings, try/catch, loops).

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceLanguage {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
    Java,
    Rust,
}

/// Node kinds of one grammar.
pub struct NodeKinds {
    /// Call nodes and the field holding what is called (Java's `method_invocation` is
    /// special-cased: `object` and `name`).
    pub calls: &'static [(&'static str, &'static str)],
    /// Member accesses: (kind, object field, member field).
    pub members: &'static [(&'static str, &'static str, &'static str)],
    /// Wrappers looked through when following a chain (`await`, `?`, parentheses).
    pub transparent: &'static [&'static str],
    pub functions: &'static [&'static str],
    /// Bindings: (kind, name field, value fields); `#0` is the first named child.
    pub bindings: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// try statements and their handler kinds.
    pub tries: &'static [&'static str],
    pub handlers: &'static [&'static str],
    pub loops: &'static [&'static str],
    /// Decorations of a function: decorators, annotations, attributes.
    pub decorations: &'static [&'static str],
    /// Statement kinds (Go's error check follows the call's statement).
    pub statements: &'static [&'static str],
}

impl SourceLanguage {
    pub fn of(path: &Path) -> Option<SourceLanguage> {
        Some(match path.extension()?.to_str()? {
            "py" => SourceLanguage::Python,
            "js" | "mjs" | "cjs" | "jsx" => SourceLanguage::JavaScript,
            "ts" | "mts" | "cts" => SourceLanguage::TypeScript,
            "tsx" => SourceLanguage::Tsx,
            "go" => SourceLanguage::Go,
            "java" => SourceLanguage::Java,
            "rs" => SourceLanguage::Rust,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SourceLanguage::Python => "python",
            SourceLanguage::JavaScript => "javascript",
            SourceLanguage::TypeScript | SourceLanguage::Tsx => "typescript",
            SourceLanguage::Go => "go",
            SourceLanguage::Java => "java",
            SourceLanguage::Rust => "rust",
        }
    }

    pub fn grammar(self) -> tree_sitter::Language {
        match self {
            SourceLanguage::Python => tree_sitter_python::LANGUAGE.into(),
            SourceLanguage::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            SourceLanguage::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            SourceLanguage::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            SourceLanguage::Go => tree_sitter_go::LANGUAGE.into(),
            SourceLanguage::Java => tree_sitter_java::LANGUAGE.into(),
            SourceLanguage::Rust => tree_sitter_rust::LANGUAGE.into(),
        }
    }

    /// A test file by its name (`test_x.py`, `x_test.go`, `x.spec.ts`, ...).
    pub fn is_test_file(path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("test_")
            || name.ends_with("_test.py")
            || name.ends_with("_test.go")
            || name.contains(".test.")
            || name.contains(".spec.")
            || name.ends_with("Test.java")
            || name == "conftest.py"
    }

    pub fn kinds(self) -> &'static NodeKinds {
        match self {
            SourceLanguage::Python => &PYTHON,
            SourceLanguage::JavaScript | SourceLanguage::TypeScript | SourceLanguage::Tsx => &JS,
            SourceLanguage::Go => &GO,
            SourceLanguage::Java => &JAVA,
            SourceLanguage::Rust => &RUST,
        }
    }
}

static PYTHON: NodeKinds = NodeKinds {
    calls: &[("call", "function")],
    members: &[("attribute", "object", "attribute")],
    transparent: &["await", "parenthesized_expression"],
    functions: &["function_definition", "lambda"],
    bindings: &[
        ("assignment", "left", &["right", "type"]),
        ("default_parameter", "name", &["value"]),
        ("typed_default_parameter", "name", &["type", "value"]),
        ("typed_parameter", "#0", &["type"]),
        ("as_pattern", "alias", &["#0"]),
    ],
    tries: &["try_statement"],
    handlers: &["except_clause"],
    loops: &["for_statement", "while_statement"],
    decorations: &["decorator"],
    statements: &["expression_statement"],
};

static JS: NodeKinds = NodeKinds {
    calls: &[
        ("call_expression", "function"),
        ("new_expression", "constructor"),
    ],
    members: &[("member_expression", "object", "property")],
    transparent: &[
        "await_expression",
        "parenthesized_expression",
        "non_null_expression",
    ],
    functions: &[
        "function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        "function",
        "generator_function_declaration",
    ],
    bindings: &[
        ("variable_declarator", "name", &["value", "type"]),
        ("assignment_expression", "left", &["right"]),
        ("required_parameter", "pattern", &["type"]),
        ("optional_parameter", "pattern", &["type"]),
        ("public_field_definition", "name", &["value", "type"]),
        ("field_definition", "property", &["value"]),
    ],
    tries: &["try_statement"],
    handlers: &["catch_clause"],
    loops: &[
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
    ],
    decorations: &["decorator"],
    statements: &[
        "expression_statement",
        "lexical_declaration",
        "variable_declaration",
    ],
};

static GO: NodeKinds = NodeKinds {
    calls: &[("call_expression", "function")],
    members: &[("selector_expression", "operand", "field")],
    transparent: &["parenthesized_expression", "unary_expression"],
    functions: &["function_declaration", "method_declaration", "func_literal"],
    bindings: &[
        ("short_var_declaration", "left", &["right"]),
        ("var_spec", "name", &["value", "type"]),
        ("assignment_statement", "left", &["right"]),
        ("parameter_declaration", "name", &["type"]),
        ("field_declaration", "name", &["type"]),
        // `&Server{client: &http.Client{Timeout: 5 * time.Second}}` in a constructor.
        ("keyed_element", "#0", &["#1"]),
    ],
    tries: &[],
    handlers: &[],
    loops: &["for_statement"],
    decorations: &[],
    statements: &[
        "short_var_declaration",
        "assignment_statement",
        "expression_statement",
        "var_declaration",
    ],
};

static JAVA: NodeKinds = NodeKinds {
    calls: &[
        ("method_invocation", "name"),
        ("object_creation_expression", "type"),
    ],
    members: &[("field_access", "object", "field")],
    transparent: &["parenthesized_expression"],
    functions: &[
        "method_declaration",
        "lambda_expression",
        "constructor_declaration",
    ],
    bindings: &[
        ("variable_declarator", "name", &["value", "^type"]),
        ("formal_parameter", "name", &["type"]),
        ("assignment_expression", "left", &["right"]),
    ],
    tries: &["try_statement", "try_with_resources_statement"],
    handlers: &["catch_clause"],
    loops: &[
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "do_statement",
    ],
    decorations: &["marker_annotation", "annotation"],
    statements: &["expression_statement", "local_variable_declaration"],
};

static RUST: NodeKinds = NodeKinds {
    calls: &[("call_expression", "function")],
    members: &[
        ("field_expression", "value", "field"),
        ("scoped_identifier", "path", "name"),
    ],
    transparent: &[
        "await_expression",
        "try_expression",
        "parenthesized_expression",
        "reference_expression",
    ],
    functions: &["function_item", "closure_expression"],
    bindings: &[
        ("let_declaration", "pattern", &["value", "type"]),
        ("parameter", "pattern", &["type"]),
        ("field_declaration", "name", &["type"]),
        ("field_initializer", "field", &["value"]),
        ("static_item", "name", &["value", "type"]),
    ],
    tries: &[],
    handlers: &[],
    loops: &["for_expression", "while_expression", "loop_expression"],
    decorations: &["attribute_item"],
    statements: &["let_declaration", "expression_statement"],
};
