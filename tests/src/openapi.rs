//! Checks responses against `specs/http-api.yaml`: the operation must exist, the
//! status must be documented, and a JSON body must match the documented schema
//! (type, required, properties, additionalProperties, items, enum, const, oneOf,
//! minimum, maximum, minLength, maxLength, pattern, $ref). Also lists what a
//! schema declares, so that a test can check that a type fills every property.

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

/// The loaded API description.
#[derive(Debug)]
pub struct OpenApi {
    doc: Value,
}

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map_or(Value::Null, Value::from),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

impl OpenApi {
    /// Loads `specs/http-api.yaml`.
    pub fn load() -> OpenApi {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/http-api.yaml");
        let text = std::fs::read_to_string(path).expect("read specs/http-api.yaml");
        let docs = YamlLoader::load_from_str(&text).expect("http-api.yaml is YAML");
        OpenApi {
            doc: to_json(&docs[0]),
        }
    }

    /// The documented path templates.
    pub fn paths(&self) -> Vec<String> {
        self.doc["paths"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many operations (path and method) the file documents.
    pub fn operations(&self) -> usize {
        self.doc["paths"].as_object().map_or(0, |m| {
            m.values()
                .filter_map(Value::as_object)
                .map(|item| {
                    ["get", "post", "put", "delete", "patch"]
                        .iter()
                        .filter(|k| item.contains_key(**k))
                        .count()
                })
                .sum()
        })
    }

    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let path = path.split('?').next().unwrap_or(path);
        let segs: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        for (template, item) in paths {
            let t: Vec<&str> = template.split('/').collect();
            let matches = t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}')));
            if matches {
                return item.get(method.to_lowercase().as_str());
            }
        }
        None
    }

    /// Panics unless the response is documented and its body matches.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &[u8]) {
        let op = self
            .operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not in specs/http-api.yaml"));
        let resp = self.resolve(
            op["responses"]
                .get(status.to_string())
                .unwrap_or_else(|| panic!("{method} {path}: status {status} is not documented")),
        );
        let Some(schema) = resp.pointer("/content/application~1json/schema") else {
            return;
        };
        let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{method} {path} {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        });
        if let Err(e) = self.validate(schema, &v, "$") {
            panic!("{method} {path} {status}: {e}\nbody: {v:#}");
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.trim_start_matches('#');
                self.doc
                    .pointer(ptr)
                    .unwrap_or_else(|| panic!("unresolved $ref {r}"))
            }
            None => schema,
        }
    }

    /// Validates `v` against `schema`.
    pub fn validate(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
            let ok = alts
                .iter()
                .filter(|s| self.validate(s, v, at).is_ok())
                .count();
            return if ok == 1 {
                Ok(())
            } else {
                Err(format!("{at}: matches {ok} of the oneOf alternatives"))
            };
        }
        if let Some(t) = schema.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let actual = match v {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            let ok = types
                .iter()
                .any(|t| *t == actual || (*t == "number" && actual == "integer"));
            if !ok {
                return Err(format!("{at}: is {actual}, expected {types:?}"));
            }
        }
        if let Some(e) = schema.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
        if let Some(c) = schema.get("const")
            && c != v
        {
            return Err(format!("{at}: {v} is not {c}"));
        }
        if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_i64), v.as_i64())
            && n < min
        {
            return Err(format!("{at}: {n} < minimum {min}"));
        }
        if let (Some(max), Some(n)) = (schema.get("maximum").and_then(Value::as_i64), v.as_i64())
            && n > max
        {
            return Err(format!("{at}: {n} > maximum {max}"));
        }
        if let (Some(text), Some(p)) = (v.as_str(), schema.get("pattern").and_then(Value::as_str)) {
            let re = regex::Regex::new(p).unwrap_or_else(|e| panic!("pattern {p}: {e}"));
            if !re.is_match(text) {
                return Err(format!("{at}: {text:?} does not match {p}"));
            }
        }
        if let Some(text) = v.as_str() {
            let n = text.chars().count() as i64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_i64)
                && n < min
            {
                return Err(format!("{at}: {n} characters < minLength {min}"));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_i64)
                && n > max
            {
                return Err(format!("{at}: {n} characters > maxLength {max}"));
            }
        }
        if let Value::Object(obj) = v {
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = r.as_str().unwrap_or("");
                if !obj.contains_key(name) {
                    return Err(format!("{at}: missing required {name}"));
                }
            }
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.validate(s, val, &format!("{at}.{k}"))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        return Err(format!("{at}: undocumented property {k}"));
                    }
                    None => {}
                }
            }
        }
        if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.validate(s, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    /// The component schema `name` (`#/components/schemas/name`).
    pub fn schema(&self, name: &str) -> &Value {
        self.doc
            .pointer(&format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("no schema {name} in specs/http-api.yaml"))
    }

    /// The names of the query parameters of an operation.
    pub fn query_parameters(&self, method: &str, path: &str) -> BTreeSet<String> {
        let op = self
            .operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not in specs/http-api.yaml"));
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The parameter `name` of an operation.
    pub fn parameter(&self, method: &str, path: &str, name: &str) -> &Value {
        let op = self
            .operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not in specs/http-api.yaml"));
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
    }

    /// Every property path `schema` declares (`$.a.b[].c`), following `$ref`,
    /// `oneOf` and `items`.
    pub fn declared(&self, schema: &Value, at: &str, out: &mut BTreeSet<String>) {
        let schema = self.resolve(schema);
        for alt in schema
            .get("oneOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.declared(alt, at, out);
        }
        if let Some(items) = schema.get("items") {
            self.declared(items, &format!("{at}[]"), out);
        }
        for (k, s) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let path = format!("{at}.{k}");
            out.insert(path.clone());
            self.declared(s, &path, out);
        }
    }

    /// Every property path present in `v` (`$.a.b[].c`), for comparison with
    /// [`OpenApi::declared`]; maps that are data (such as a record body of any
    /// kind) are not listed below `opaque` paths.
    pub fn present(v: &Value, at: &str, opaque: &[&str], out: &mut BTreeSet<String>) {
        if opaque.contains(&at) {
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let path = format!("{at}.{k}");
                    out.insert(path.clone());
                    OpenApi::present(x, &path, opaque, out);
                }
            }
            Value::Array(items) => {
                for x in items {
                    OpenApi::present(x, &format!("{at}[]"), opaque, out);
                }
            }
            _ => {}
        }
    }
}
