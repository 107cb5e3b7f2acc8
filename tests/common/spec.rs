//! Conformance to the reference specifications (tests/specs, copied verbatim) and to esignd's
//! own device API (docs/device-api.yaml): live answers are validated against the response
//! schemas of the GovStack eSignature OpenAPI, MOSIP e-Signet's OpenAPI and ours — `type`,
//! `properties`, `required`, `enum`, `items` and `$ref`, which is what those schemas use.

use std::path::Path;

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// A loaded OpenAPI document.
pub struct Spec {
    root: Value,
    name: &'static str,
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (key, value) in hash {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => format!("{other:?}"),
                };
                map.insert(key, to_json(value));
            }
            Value::Object(map)
        }
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        Yaml::Boolean(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

impl Spec {
    fn load(file: &str, name: &'static str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self { root: to_json(&docs[0]), name }
    }

    /// The GovStack eSignature Building Block API.
    pub fn govstack() -> Self {
        Self::load("tests/specs/govstack-esignature-openapi.yaml", "GovStack eSignature")
    }

    /// MOSIP e-Signet.
    pub fn esignet() -> Self {
        Self::load("tests/specs/esignet-openapi.yaml", "e-Signet")
    }

    /// esignd's audit API.
    #[allow(dead_code)] // one test binary reads the audit
    pub fn audit_api() -> Self {
        Self::load("docs/audit-api.yaml", "esignd audit API")
    }

    /// esignd's device API.
    pub fn device_api() -> Self {
        Self::load("docs/device-api.yaml", "esignd device API")
    }

    /// The JSON schema of the `status` answer of `method` on `path` (as the spec writes it).
    pub fn response_schema(&self, path: &str, method: &str, status: &str) -> Value {
        let response = self.resolve(&self.root["paths"][path][method]["responses"][status]);
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{}: no JSON schema for {method} {path} {status}", self.name);
        schema.clone()
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.resolve(self.root.pointer(pointer).unwrap_or_else(|| panic!("{}: no {reference}", self.name)))
            }
            None => schema,
        }
    }

    /// Why `value` does not fit `schema`, if it does not; `at` names the place.
    pub fn mismatch(&self, value: &Value, schema: &Value, at: &str) -> Option<String> {
        let schema = self.resolve(schema);
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            return Some(format!("{at}: {value} is not one of {allowed:?}"));
        }
        let fits = match schema.get("type").and_then(Value::as_str) {
            Some("object") => value.is_object(),
            Some("string") => value.is_string(),
            Some("array") => value.is_array(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            _ => true,
        };
        if !fits {
            return Some(format!("{at}: {value} is not of type {}", schema["type"]));
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if value.get(name).is_none() {
                    return Some(format!("{at}: the required member {name:?} is missing"));
                }
            }
        }
        if let (Some(properties), Some(object)) =
            (schema.get("properties").and_then(Value::as_object), value.as_object())
        {
            for (name, member) in object {
                if let Some(member_schema) = properties.get(name)
                    && let Some(problem) = self.mismatch(member, member_schema, &format!("{at}.{name}"))
                {
                    return Some(problem);
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                if let Some(problem) = self.mismatch(item, items, &format!("{at}[{i}]")) {
                    return Some(problem);
                }
            }
        }
        None
    }

    /// Assert that `value`, answered with `status` to `method` on `path`, fits the spec and
    /// carries at least the members `expected` (which the spec's schema must know).
    pub fn assert_answer(&self, path: &str, method: &str, status: &str, value: &Value, expected: &[&str]) {
        let schema = self.response_schema(path, method, status);
        if let Some(problem) = self.mismatch(value, &schema, "answer") {
            panic!("{}: {method} {path} {status} does not conform: {problem}\n{value}", self.name);
        }
        let properties = self.resolve(&schema)["properties"].clone();
        for name in expected {
            assert!(properties.get(*name).is_some(), "{}: {method} {path} has no member {name:?}", self.name);
            assert!(value.get(*name).is_some(), "{}: the answer to {method} {path} lacks {name:?}: {value}", self.name);
        }
    }
}
