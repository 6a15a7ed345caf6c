//! Go-shaped JSON of QBFT state for structural post-state comparison, shared by the spec
//! suites (`spec_qbft`, `spec_ssv`): our state is written in the Go JSON field order and
//! shape and compared as JSON values, with `null`, `""` and `[]` treated as equal (Go keeps
//! a nil/empty distinction that SSZ bytes do not carry).
//!
//! Include with `#[path = "shared/go_json.rs"] mod go_json;` (or `../shared/go_json.rs`
//! from a suite's sub-module directory).
#![allow(dead_code)]

use serde_json::Value;
use ssv_core::qbft::{CommitteeMember, ControllerData, MsgContainer, ProcessingMessage, State};
use ssv_core::types::{QbftMessage, SignedSsvMessage};

/// A check result.
pub(crate) type R<T = ()> = Result<T, String>;

/// An ordered JSON value, so Go's field order can be reproduced byte for byte.
pub(crate) enum J {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
    Map(Vec<(String, J)>),
}

impl J {
    pub(crate) fn bytes(b: &[u8]) -> J {
        use base64::Engine;
        if b.is_empty() {
            J::Null
        } else {
            J::Str(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }

    pub(crate) fn opt_bytes(b: &Option<Vec<u8>>) -> J {
        match b {
            None => J::Null,
            Some(b) => {
                use base64::Engine;
                J::Str(base64::engine::general_purpose::STANDARD.encode(b))
            }
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            J::Arr(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, x)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("\"{k}\":"));
                    x.write(out);
                }
                out.push('}');
            }
            J::Map(fields) => {
                out.push('{');
                for (i, (k, x)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("\"{k}\":"));
                    x.write(out);
                }
                out.push('}');
            }
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut s = String::new();
        self.write(&mut s);
        serde_json::from_str(&s).unwrap_or(Value::Null)
    }
}

pub(crate) fn go_committee(c: &CommitteeMember) -> J {
    J::Obj(vec![
        ("OperatorID", J::Num(c.operator_id)),
        ("CommitteeID", J::Str(hex::encode(c.committee_id))),
        ("SSVOperatorPubKey", J::bytes(&c.public_key)),
        ("FaultyNodes", J::Num(c.faulty_nodes)),
        (
            "Committee",
            J::Arr(
                c.committee
                    .iter()
                    .map(|o| {
                        J::Obj(vec![
                            ("OperatorID", J::Num(o.operator_id)),
                            ("SSVOperatorPubKey", J::bytes(&o.public_key)),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("DomainType", J::Str(hex::encode(c.domain_type.0))),
    ])
}

pub(crate) fn go_signed(m: &SignedSsvMessage) -> J {
    use base64::Engine;
    let e = |b: &[u8]| J::Str(base64::engine::general_purpose::STANDARD.encode(b));
    J::Obj(vec![
        ("Signatures", J::Arr(m.signatures.iter().map(|s| e(s)).collect())),
        ("OperatorIDs", J::Arr(m.operator_ids.iter().map(|i| J::Num(*i)).collect())),
        (
            "SSVMessage",
            J::Obj(vec![
                ("MsgType", J::Num(m.ssv_message.msg_type)),
                ("MsgID", J::Str(hex::encode(m.ssv_message.msg_id.0))),
                ("Data", e(&m.ssv_message.data)),
            ]),
        ),
        ("FullData", J::bytes(&m.full_data)),
    ])
}

pub(crate) fn go_qbft(m: &QbftMessage) -> J {
    use base64::Engine;
    let e = |b: &[u8]| J::Str(base64::engine::general_purpose::STANDARD.encode(b));
    // Go marshals qbft.Message with its custom field order (alphabetical via a map).
    J::Obj(vec![
        ("DataRound", J::Num(m.data_round)),
        ("Height", J::Num(m.height)),
        ("Identifier", e(&m.identifier)),
        ("MsgType", J::Num(m.msg_type)),
        ("PrepareJustification", J::Arr(m.prepare_justification.iter().map(|j| e(j)).collect())),
        ("Root", J::Str(hex::encode(m.root))),
        ("Round", J::Num(m.round)),
        (
            "RoundChangeJustification",
            J::Arr(m.round_change_justification.iter().map(|j| e(j)).collect()),
        ),
    ])
}

pub(crate) fn go_processing(m: &ProcessingMessage) -> J {
    J::Obj(vec![("SignedMessage", go_signed(&m.signed)), ("QBFTMessage", go_qbft(&m.qbft))])
}

pub(crate) fn go_container(c: &MsgContainer) -> J {
    // Go sorts map keys as strings.
    let mut entries: Vec<(String, J)> = c
        .msgs
        .iter()
        .map(|(r, msgs)| (r.to_string(), J::Arr(msgs.iter().map(go_processing).collect())))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    J::Obj(vec![("Msgs", J::Map(entries))])
}

pub(crate) fn go_state(s: &State) -> J {
    J::Obj(vec![
        ("CommitteeMember", go_committee(&s.committee)),
        ("ID", J::bytes(&s.id)),
        ("Round", J::Num(s.round)),
        ("Height", J::Num(s.height)),
        ("LastPreparedRound", J::Num(s.last_prepared_round)),
        ("LastPreparedValue", J::opt_bytes(&s.last_prepared_value)),
        (
            "ProposalAcceptedForCurrentRound",
            s.proposal_accepted_for_current_round.as_ref().map_or(J::Null, go_processing),
        ),
        ("Decided", J::Bool(s.decided)),
        ("DecidedValue", J::opt_bytes(&s.decided_value)),
        ("ProposeContainer", go_container(&s.propose_container)),
        ("PrepareContainer", go_container(&s.prepare_container)),
        ("CommitContainer", go_container(&s.commit_container)),
        ("RoundChangeContainer", go_container(&s.round_change_container)),
    ])
}

pub(crate) fn go_controller(c: &ControllerData) -> J {
    J::Obj(vec![
        ("Identifier", J::bytes(&c.identifier)),
        ("Height", J::Num(c.height)),
        (
            "StoredInstances",
            J::Arr(
                c.stored_instances
                    .iter()
                    .map(|i| {
                        let mut fields = Vec::new();
                        if i.force_stopped {
                            // Go's Instance.MarshalJSON adds `forceStop` only when set.
                            fields.push(("forceStop", J::Bool(true)));
                        }
                        fields.push(("State", go_state(&i.state)));
                        fields.push(("StartValue", J::opt_bytes(&i.start_value)));
                        J::Obj(fields)
                    })
                    .collect(),
            ),
        ),
        ("CommitteeMember", go_committee(&c.committee)),
    ])
}

/// `null`, `""` and `[]` are one value here; see the module docs.
pub(crate) fn normalize(v: &Value) -> Value {
    match v {
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), normalize(x))).collect())
        }
        other => other.clone(),
    }
}

pub(crate) fn compare_json(what: &str, actual: &Value, expected: &Value) -> R {
    let (a, e) = (normalize(actual), normalize(expected));
    if a == e {
        return Ok(());
    }
    Err(format!("{what} differs: {}", first_diff("", &a, &e)))
}

pub(crate) fn first_diff(path: &str, a: &Value, e: &Value) -> String {
    match (a, e) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (xa, ya) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                if xa != ya {
                    return first_diff(&format!("{path}.{k}"), xa, ya);
                }
            }
            format!("{path}: ?")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (xa, ya)) in x.iter().zip(y).enumerate() {
                if xa != ya {
                    return first_diff(&format!("{path}[{i}]"), xa, ya);
                }
            }
            format!("{path}: ?")
        }
        _ => {
            let s = |v: &Value| {
                let t = v.to_string();
                if t.len() > 200 { format!("{}…", &t[..200]) } else { t }
            };
            format!("{path}: got {} want {}", s(a), s(e))
        }
    }
}
