//! Which HTTP requests an HTTP toxic applies to: a method, a path prefix and a header, each
//! optional (attributes `method`, `path_prefix`, `header` = `"Name: value"` or `"Name"`).

use super::attributes::{AttributeError, Attributes};
use hyper::Method;
use hyper::header::HeaderName;
use hyper::http::request::Parts;
use serde_json::{Map, Value, json};

/// A request filter; the default matches every request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpMatch {
    method: Option<Method>,
    path_prefix: Option<String>,
    header: Option<(HeaderName, Option<String>)>,
}

impl HttpMatch {
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Requests carrying header `name` (with exactly `value`, if given).
    pub fn header(mut self, name: HeaderName, value: Option<String>) -> Self {
        self.header = Some((name, value));
        self
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        HttpMatch::parse(a.text("method")?, a.text("path_prefix")?, a.text("header")?)
    }

    /// A matcher from its three optional parts, as written (`"GET"`, `"/api"`,
    /// `"Name: value"` or `"Name"`).
    pub fn parse(
        method: Option<&str>,
        path_prefix: Option<&str>,
        header: Option<&str>,
    ) -> Result<Self, AttributeError> {
        let mut m = HttpMatch::default();
        if let Some(method) = method {
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    AttributeError(format!(
                        "attribute `method` is not an HTTP method: {method:?}"
                    ))
                })?;
            m = m.method(method);
        }
        if let Some(prefix) = path_prefix {
            if !prefix.starts_with('/') {
                return Err(AttributeError(format!(
                    "attribute `path_prefix` must start with '/', got {prefix:?}"
                )));
            }
            m = m.path_prefix(prefix);
        }
        if let Some(header) = header {
            let (name, value) = match header.split_once(':') {
                Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
                None => (header.trim(), None),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                AttributeError(format!(
                    "attribute `header` must be \"Name: value\" or \"Name\", got {header:?}"
                ))
            })?;
            m = m.header(name, value);
        }
        Ok(m)
    }

    /// Adds the matcher's attributes (only those set) to `map`.
    pub fn write_attributes(&self, map: &mut Map<String, Value>) {
        if let Some(method) = &self.method {
            map.insert("method".into(), json!(method.as_str()));
        }
        if let Some(prefix) = &self.path_prefix {
            map.insert("path_prefix".into(), json!(prefix));
        }
        if let Some((name, value)) = &self.header {
            let text = match value {
                Some(v) => format!("{}: {v}", name.as_str()),
                None => name.as_str().to_string(),
            };
            map.insert("header".into(), json!(text));
        }
    }

    pub fn matches(&self, request: &Parts) -> bool {
        if self.method.as_ref().is_some_and(|m| *m != request.method) {
            return false;
        }
        if self
            .path_prefix
            .as_ref()
            .is_some_and(|p| !request.uri.path().starts_with(p.as_str()))
        {
            return false;
        }
        match &self.header {
            None => true,
            Some((name, None)) => request.headers.contains_key(name),
            Some((name, Some(value))) => request
                .headers
                .get_all(name)
                .iter()
                .any(|v| v.to_str().is_ok_and(|v| v.trim() == value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, header: Option<(&str, &str)>) -> Parts {
        let mut b = hyper::Request::builder().method(method).uri(uri);
        if let Some((n, v)) = header {
            b = b.header(n, v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn every_condition_must_hold() {
        let v = json!({"method": "post", "path_prefix": "/api", "header": "X-Chaos: on"});
        let m = HttpMatch::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        assert!(m.matches(&parts("POST", "/api/users", Some(("x-chaos", "on")))));
        assert!(!m.matches(&parts("GET", "/api/users", Some(("x-chaos", "on")))));
        assert!(!m.matches(&parts("POST", "/health", Some(("x-chaos", "on")))));
        assert!(!m.matches(&parts("POST", "/api", Some(("x-chaos", "off")))));
        assert!(!m.matches(&parts("POST", "/api", None)));
    }

    #[test]
    fn header_presence_and_round_trip() {
        let v = json!({"header": "x-canary"});
        let m = HttpMatch::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        assert!(m.matches(&parts("GET", "/", Some(("X-Canary", "1")))));
        assert!(!m.matches(&parts("GET", "/", None)));
        let mut map = Map::new();
        m.write_attributes(&mut map);
        assert_eq!(Value::Object(map), v);
        assert!(HttpMatch::default().matches(&parts("DELETE", "/x", None)));
    }

    #[test]
    fn bad_matchers_are_refused() {
        for v in [
            json!({"method": "GE T"}),
            json!({"path_prefix": "api"}),
            json!({"header": "bad header: x"}),
        ] {
            assert!(
                HttpMatch::from_attributes(&Attributes::new(&v).unwrap()).is_err(),
                "{v}"
            );
        }
    }
}
