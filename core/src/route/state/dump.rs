//! One row of a state as `switchboard state export` writes it and `state import` reads it:
//! a JSON object per line, the same for every store, so that a state moves from SQLite to
//! PostgreSQL and back. Ledger rows carry the recorded entry exactly (`entry`, the compact
//! encoding in hex: the trace and fingerprint included) and, for people and `jq`, the decision
//! as `route` printed it. Counters a store derives (a rep's total, cached window counts) are
//! not rows: the importing store counts them again.

use super::{Outgoing, Recorded, compact};
use crate::route::life::Life;
use crate::route::wire;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// The version of the rows' format (the first line of an export says it). Format 2 added tags
/// and scores to recorded decisions; format 3, lead fingerprints of the second kind (an older
/// reader would take them for fingerprints of another schema); format 4, the last line
/// ([`trailer`]), so that a file cut short is refused. Earlier formats read as they are (their
/// entries' fingerprints are compared as legacy ones), while a reader of an earlier format
/// refuses a later one by its number.
pub const FORMAT: u64 = 4;

/// The first format whose exports end with a [`trailer`].
pub const FORMAT_WITH_TRAILER: u64 = 4;

/// One row of a state.
#[derive(Debug, Clone, PartialEq)]
pub enum StateRow {
    /// A decision in the ledger.
    Ledger(Recorded),
    /// What `track` and `sweep` did to a lead since it was routed.
    Life(Life),
    /// A pool's rotation state (opaque).
    Rotation { pool: String, state: String },
    /// A lead assigned to a rep at a routing time (loads count by it; whole seconds).
    Assignment {
        lead: String,
        rep: String,
        at: Timestamp,
    },
    /// The own time of a lead assigned to a rep (period caps count by it; whole seconds).
    LeadTime {
        rep: String,
        lead_at: Timestamp,
        lead: String,
    },
    /// A value `previous rep of FIELD` will look for.
    Prospect {
        field: String,
        key: String,
        lead_at: Timestamp,
        lead: String,
        rep: String,
    },
    /// A lead's next escalation step in the due index.
    Due { at: Timestamp, lead: String },
    /// A message of the outbox.
    Outbox(Outgoing),
}

/// The first line of an export.
pub fn header(store: &str) -> String {
    json!({"switchboard_state": FORMAT, "from": store}).to_string()
}

/// The last line of an export: how many rows it holds. A file cut short at the end of a line
/// (a full disk, a copy stopped) would otherwise read as a smaller state: loads, caps and the
/// ledger quietly missing rows.
pub fn trailer(rows: u64) -> String {
    json!({"switchboard_state_end": {"rows": rows}}).to_string()
}

/// The row count of `line` when it is an export's [`trailer`].
pub fn read_trailer(line: &str) -> Option<u64> {
    if !line.contains("\"switchboard_state_end\"") {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    value.get("switchboard_state_end")?.get("rows")?.as_u64()
}

/// Reads the first line of an export: its format, or an error unless it is one this build
/// reads.
pub fn read_header(line: &str) -> Result<u64, String> {
    let value: Value = serde_json::from_str(line)
        .map_err(|error| format!("the first line is not JSON: {error}"))?;
    match value.get("switchboard_state").and_then(Value::as_u64) {
        Some(format @ 1..=FORMAT) => Ok(format),
        Some(other) => Err(format!(
            "the export is format {other}; this Switchboard reads formats 1 to {FORMAT}: use \
             the Switchboard that exported it, or a newer one"
        )),
        None => Err(format!(
            "the first line is not the header of a `switchboard state export` \
             ({{\"switchboard_state\": {FORMAT}, ...}})"
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

impl StateRow {
    /// The row's kind, as its `kind` key says it.
    pub fn kind(&self) -> &'static str {
        match self {
            StateRow::Ledger(_) => "ledger",
            StateRow::Life(_) => "life",
            StateRow::Rotation { .. } => "rotation",
            StateRow::Assignment { .. } => "assignment",
            StateRow::LeadTime { .. } => "lead_time",
            StateRow::Prospect { .. } => "prospect",
            StateRow::Due { .. } => "due",
            StateRow::Outbox(_) => "outbox",
        }
    }

    /// The row as one line of JSON.
    pub fn to_json(&self) -> String {
        let value = match self {
            StateRow::Ledger(recorded) => {
                let mut entry = Vec::with_capacity(256);
                compact::encode_recorded(&recorded.as_entry(), &mut entry);
                let decision: Value =
                    serde_json::from_str(&wire::decision_json(&recorded.decision))
                        .unwrap_or(Value::Null);
                json!({
                    "kind": self.kind(),
                    "lead": &*recorded.decision.lead,
                    "decided_at": recorded.decided_at.to_string(),
                    "policy": &*recorded.policy_hash,
                    "decision": decision,
                    "entry": hex(&entry),
                })
            }
            StateRow::Life(life) => {
                json!({"kind": self.kind(), "lead": life.lead, "life": serde_json::to_value(life).unwrap_or(Value::Null)})
            }
            StateRow::Rotation { pool, state } => {
                json!({"kind": self.kind(), "pool": pool, "state": state})
            }
            StateRow::Assignment { lead, rep, at } => json!({
                "kind": self.kind(), "lead": lead, "rep": rep, "at": at.to_string(),
            }),
            StateRow::LeadTime { rep, lead_at, lead } => json!({
                "kind": self.kind(), "rep": rep, "lead_at": lead_at.to_string(), "lead": lead,
            }),
            StateRow::Prospect {
                field,
                key,
                lead_at,
                lead,
                rep,
            } => json!({
                "kind": self.kind(), "field": field, "key": key,
                "lead_at": lead_at.to_string(), "lead": lead, "rep": rep,
            }),
            StateRow::Due { at, lead } => {
                json!({"kind": self.kind(), "at": at.to_string(), "lead": lead})
            }
            StateRow::Outbox(message) => json!({
                "kind": self.kind(), "seq": message.seq, "at": message.at.to_string(),
                "lead": message.lead, "body": message.body, "pending": message.pending,
            }),
        };
        value.to_string()
    }

    /// Reads a row written by [`StateRow::to_json`]; the error says what is wrong with it.
    pub fn from_json(line: &str) -> Result<StateRow, String> {
        let value: Value =
            serde_json::from_str(line).map_err(|error| format!("not JSON: {error}"))?;
        let Value::Object(row) = value else {
            return Err("not a JSON object".to_string());
        };
        let kind = text(&row, "kind")?;
        Ok(match kind.as_str() {
            "ledger" => {
                let lead = text(&row, "lead")?;
                let entry = unhex(&text(&row, "entry")?)
                    .ok_or("`entry` is not hexadecimal: copy it as it was exported")?;
                let recorded = compact::decode_recorded(&entry)
                    .ok_or("`entry` is not a recorded decision this Switchboard reads")?;
                if *recorded.decision.lead != *lead {
                    return Err(format!(
                        "`entry` is the decision of `{}`, not of `{lead}`",
                        recorded.decision.lead
                    ));
                }
                StateRow::Ledger(recorded)
            }
            "life" => {
                let life: Life =
                    serde_json::from_value(row.get("life").cloned().ok_or("`life` is missing")?)
                        .map_err(|error| format!("`life`: {error}"))?;
                StateRow::Life(life)
            }
            "rotation" => StateRow::Rotation {
                pool: text(&row, "pool")?,
                state: text(&row, "state")?,
            },
            "assignment" => StateRow::Assignment {
                lead: text(&row, "lead")?,
                rep: text(&row, "rep")?,
                at: time(&row, "at")?,
            },
            "lead_time" => StateRow::LeadTime {
                rep: text(&row, "rep")?,
                lead_at: time(&row, "lead_at")?,
                lead: text(&row, "lead")?,
            },
            "prospect" => StateRow::Prospect {
                field: text(&row, "field")?,
                key: text(&row, "key")?,
                lead_at: time(&row, "lead_at")?,
                lead: text(&row, "lead")?,
                rep: text(&row, "rep")?,
            },
            "due" => StateRow::Due {
                at: time(&row, "at")?,
                lead: text(&row, "lead")?,
            },
            "outbox" => StateRow::Outbox(Outgoing {
                seq: row
                    .get("seq")
                    .and_then(Value::as_u64)
                    .filter(|seq| i64::try_from(*seq).is_ok())
                    .ok_or("`seq` must be a whole number from 0 to 9223372036854775807")?,
                at: time(&row, "at")?,
                lead: text(&row, "lead")?,
                body: text(&row, "body")?,
                pending: row
                    .get("pending")
                    .and_then(Value::as_bool)
                    .ok_or("`pending` must be true or false")?,
            }),
            other => {
                return Err(format!(
                    "unknown kind `{other}` (ledger, life, rotation, assignment, lead_time, prospect, \
                     due, outbox)"
                ));
            }
        })
    }
}

fn text(row: &Map<String, Value>, key: &str) -> Result<String, String> {
    row.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("`{key}` must be a string"))
}

fn time(row: &Map<String, Value>, key: &str) -> Result<Timestamp, String> {
    text(row, key)?
        .parse()
        .map_err(|error| format!("`{key}` is not a time: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn rows_round_trip() {
        let rows = [
            StateRow::Rotation {
                pool: "desk".into(),
                state: "2".into(),
            },
            StateRow::Assignment {
                lead: "L-1".into(),
                rep: "anna".into(),
                at: "2026-11-23T10:00:00Z".parse().unwrap(),
            },
            StateRow::LeadTime {
                rep: "anna".into(),
                lead_at: "2026-11-23T09:59:00Z".parse().unwrap(),
                lead: "L-1".into(),
            },
            StateRow::Due {
                at: "2026-11-23T10:15:00.5Z".parse().unwrap(),
                lead: "L-1".into(),
            },
            StateRow::Outbox(Outgoing {
                seq: 7,
                at: "2026-11-23T10:30:00Z".parse().unwrap(),
                lead: "L-1".into(),
                body: "{\"lead\":\"L-1\"}".into(),
                pending: true,
            }),
        ];
        for row in rows {
            assert_eq!(StateRow::from_json(&row.to_json()), Ok(row));
        }
    }

    #[test]
    fn bad_rows_say_why() {
        assert_eq!(
            StateRow::from_json(r#"{"kind":"rotaton","pool":"x"}"#).unwrap_err(),
            "unknown kind `rotaton` (ledger, life, rotation, assignment, lead_time, prospect, due, \
             outbox)"
        );
        assert_eq!(
            StateRow::from_json(r#"{"kind":"due","at":"yesterday","lead":"x"}"#)
                .unwrap_err()
                .split(':')
                .next(),
            Some("`at` is not a time")
        );
        assert!(read_header(r#"{"switchboard_state":9}"#).is_err());
        assert!(read_header(&header("sqlite")).is_ok());
        // Exports written before tags and scores existed still read.
        assert!(read_header(r#"{"switchboard_state":1,"from":"sqlite"}"#).is_ok());
    }
}
