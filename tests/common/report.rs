//! Reading `check` reports in tests: schema validation and lookups by name.

use serde_json::Value;

use super::vpc::CheckRun;

/// The committed schema every report must match.
const SCHEMA: &str = include_str!("../../src/report/check.schema.json");

/// Validates the run's JSON against the schema and returns (exit code, JSON).
pub fn validated(run: CheckRun) -> (i32, Value) {
    let json = run.json.unwrap_or_else(|| {
        panic!(
            "no JSON (exit {}):\n{}\n{}",
            run.code, run.stdout, run.stderr
        )
    });
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema: {errors:#?}"
    );
    (run.code, json)
}

/// The target named `name`.
pub fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

/// The probe of `address:port` of a target.
pub fn port<'a>(target: &'a Value, address: &str, port: u64) -> &'a Value {
    target["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == address && p["port"] == port)
        .unwrap_or_else(|| panic!("no {address}:{port} in {}", target["name"]))
}

/// Every finding of `kind`.
pub fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}
