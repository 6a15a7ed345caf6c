//! Shared pieces of the `spec_types` harness: JSON access, error-code comparison,
//! `CompareWithJson`, and the error-code table check.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;
use ssv_core::error::{ErrorCode, SpecError};

/// Deserializes a field of the test object.
pub(crate) fn field<T: DeserializeOwned>(test: &Value, name: &str) -> Result<T, String> {
    let value = test.get(name).ok_or_else(|| format!("test has no field {name}"))?;
    serde_json::from_value(value.clone()).map_err(|e| format!("field {name}: {e}"))
}

/// The test's `ExpectedErrorCode` (0 = no error).
pub(crate) fn expected_code(test: &Value) -> Result<u16, String> {
    field(test, "ExpectedErrorCode")
}

/// Go's `AssertErrorCode`: code 0 wants no error; another code wants an error with that
/// code (an error without a spec code fails as Go's "unknown error").
pub(crate) fn assert_code<E: SpecError + std::fmt::Display>(
    expected: u16,
    result: &Result<(), E>,
) -> Result<(), String> {
    match (expected, result) {
        (0, Ok(())) => Ok(()),
        (0, Err(e)) => Err(format!("expected no error, got {e}")),
        (want, Ok(())) => Err(format!("expected error code {want}, got no error")),
        (want, Err(e)) => match e.code() {
            Some(code) if code.as_u16() == want => Ok(()),
            Some(code) => Err(format!("expected error code {want}, got {} ({e})", code.as_u16())),
            None => Err(format!("expected error code {want}, got an error without code: {e}")),
        },
    }
}

/// A 32-byte expected root, written by Go as an int array (`[32]byte`) or as hex
/// (`types.ExpectedRoot` and friends).
pub(crate) fn root_field(test: &Value, name: &str) -> Result<[u8; 32], String> {
    match test.get(name) {
        Some(Value::String(text)) => {
            let bytes = hex::decode(text.trim_start_matches("0x")).map_err(|e| e.to_string())?;
            bytes.try_into().map_err(|_| format!("{name} is not 32 bytes"))
        }
        Some(_) => field(test, name),
        None => Err(format!("test has no field {name}")),
    }
}

/// Where `CompareWithJson` finds a test's expected copy.
pub(crate) struct StateComparison<'a> {
    /// `types/spectest/generate/state_comparison`.
    pub(crate) dir: PathBuf,
    /// The file-name category, e.g. `ssvmsg.EncodingTest`.
    pub(crate) category: &'a str,
    /// The test object.
    pub(crate) test: &'a Value,
}

impl StateComparison<'_> {
    /// Go's `CompareWithJson(test, TestName(), type)`: the test object (without
    /// `PrivateKeys`) must equal `state_comparison/<pkg>_<Type>/<TestName()>.json`, i.e. the
    /// vector's inputs are the ones it was generated with.
    pub(crate) fn compare(&self, test_name: &str) -> Result<(), String> {
        let path =
            self.dir.join(self.category.replace('.', "_")).join(format!("{test_name}.json"));
        let expected: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
        let mut actual = self.test.clone();
        if let Some(map) = actual.as_object_mut() {
            map.remove("PrivateKeys");
        }
        if actual == expected {
            Ok(())
        } else {
            Err(format!("{test_name}: inputs differ from {}", path.display()))
        }
    }

    /// The test's `Name`.
    pub(crate) fn name(&self) -> Result<String, String> {
        field(self.test, "Name")
    }
}

/// Go constant name (without `ErrorCode`) to our variant name: runs of capitals become one
/// capitalised word (`UnmarshalSSZ` → `UnmarshalSsz`, `SSVMessageHas…` → `SsvMessageHas…`).
fn rust_variant_name(go: &str) -> String {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        if c.is_ascii_uppercase() && prev_upper && !next_lower {
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// Every `types.<Name>ErrorCode` constant of `_external_types.json` (extracted from
/// ssv-spec v1.2.2 `types/error.go`) equals our [`ErrorCode`] of the same name, and the
/// table has exactly as many codes.
pub(crate) fn check_error_code_table() -> Result<(), String> {
    let path = ssv_fixtures::vector_path(
        "ssv-spec-testingutils-v1.2.2/_external_types.json",
        "ssv-spec v1.2.2 types/ constants",
    )
    .map_err(|e| e.to_string())?;
    let table: serde_json::Map<String, Value> =
        ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    let mut count = 0u16;
    let mut errors = Vec::new();
    for (key, entry) in &table {
        let Some(go_name) =
            key.strip_prefix("types.").and_then(|k| k.strip_suffix("ErrorCode"))
        else {
            continue;
        };
        count += 1;
        let value = entry.get("value").and_then(Value::as_u64).ok_or(format!("{key}: no value"))?;
        let variant = rust_variant_name(go_name);
        match serde_json::from_value::<ErrorCode>(Value::String(variant.clone())) {
            Ok(code) if u64::from(code.as_u16()) == value => {}
            Ok(code) => errors.push(format!("{key} = {value}, ours {variant} = {}", code.as_u16())),
            Err(_) => errors.push(format!("{key} = {value}: no ErrorCode::{variant}")),
        }
    }
    // Every one of our codes must have been named: the table is 1..=count with no gaps.
    if count != 72 {
        errors.push(format!("expected 72 error codes in v1.2.2, found {count}"));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("\n")) }
}
