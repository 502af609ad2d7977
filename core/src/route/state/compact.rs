//! A compact binary form of a [`Decision`] for ledgers kept in memory: strings as
//! length-prefixed bytes, times as seconds, nanoseconds and offset. Writing it is a few copies
//! (no escaping, no formatting), so recording every decision costs little; reading it back is
//! only needed for repeats.

use crate::model::time::LocalTime;
use crate::route::decision::{Action, Decision, Due, Escalation, Reason, RuleRef};

/// Appends the decision's compact form.
pub fn encode(decision: &Decision, out: &mut Vec<u8>) {
    put_str(out, &decision.lead);
    match &decision.rule {
        None => out.push(0),
        Some(rule) => {
            out.push(1);
            put_str(out, &rule.label);
            put_u64(out, rule.line as u64);
        }
    }
    match &decision.action {
        Action::Pool { pool, rep } => {
            out.push(0);
            put_str(out, pool);
            put_str(out, rep);
        }
        Action::Queue { queue } => {
            out.push(1);
            put_str(out, queue);
        }
        Action::Rep { rep } => {
            out.push(2);
            put_str(out, rep);
        }
        Action::Owner { rep } => {
            out.push(3);
            put_str(out, rep);
        }
        Action::Unassigned => out.push(4),
    }
    match &decision.due {
        None => out.push(0),
        Some(Due::Never) => out.push(1),
        Some(Due::At(time)) => {
            out.push(2);
            put_time(out, *time);
        }
    }
    put_u64(out, decision.escalation.len() as u64);
    for step in &decision.escalation {
        match step.at {
            None => out.push(0),
            Some(time) => {
                out.push(1);
                put_time(out, time);
            }
        }
        put_str(out, &step.to);
    }
    put_u64(out, decision.reasons.len() as u64);
    for reason in &decision.reasons {
        match &reason.action {
            None => out.push(0),
            Some(action) => {
                out.push(1);
                put_str(out, action);
            }
        }
        put_str(out, &reason.reason);
    }
}

/// Reads a decision written by [`encode`]; `None` if the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<Decision> {
    let mut input = Input(bytes);
    let lead = input.string()?;
    let rule = match input.byte()? {
        0 => None,
        _ => Some(RuleRef {
            label: input.string()?,
            line: usize::try_from(input.u64()?).ok()?,
        }),
    };
    let action = match input.byte()? {
        0 => Action::Pool {
            pool: input.string()?,
            rep: input.string()?,
        },
        1 => Action::Queue {
            queue: input.string()?,
        },
        2 => Action::Rep {
            rep: input.string()?,
        },
        3 => Action::Owner {
            rep: input.string()?,
        },
        4 => Action::Unassigned,
        _ => return None,
    };
    let due = match input.byte()? {
        0 => None,
        1 => Some(Due::Never),
        _ => Some(Due::At(input.time()?)),
    };
    let mut escalation = Vec::new();
    for _ in 0..input.u64()? {
        let at = match input.byte()? {
            0 => None,
            _ => Some(input.time()?),
        };
        escalation.push(Escalation {
            at,
            to: input.string()?,
        });
    }
    let mut reasons = Vec::new();
    for _ in 0..input.u64()? {
        let action = match input.byte()? {
            0 => None,
            _ => Some(input.string()?),
        };
        reasons.push(Reason {
            action,
            reason: input.string()?,
        });
    }
    input.0.is_empty().then_some(Decision {
        lead,
        rule,
        action,
        due,
        escalation,
        reasons,
    })
}

/// The lead id of an encoded decision, without decoding the rest.
pub fn lead_of(bytes: &[u8]) -> Option<&str> {
    let mut input = Input(bytes);
    let length = usize::try_from(input.u64()?).ok()?;
    std::str::from_utf8(input.take(length)?).ok()
}

fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    // LEB128: small numbers (lengths, lines) take one byte.
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn put_time(out: &mut Vec<u8>, time: LocalTime) {
    out.extend_from_slice(&time.instant.as_second().to_le_bytes());
    out.extend_from_slice(&time.instant.subsec_nanosecond().to_le_bytes());
    match time.offset {
        None => out.push(0),
        Some(offset) => {
            out.push(1);
            out.extend_from_slice(&offset.seconds().to_le_bytes());
        }
    }
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if self.0.len() < count {
            return None;
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Some(taken)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn u64(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn string(&mut self) -> Option<String> {
        let length = usize::try_from(self.u64()?).ok()?;
        String::from_utf8(self.take(length)?.to_vec()).ok()
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn time(&mut self) -> Option<LocalTime> {
        let seconds = i64::from_le_bytes(self.array()?);
        let nanos = i32::from_le_bytes(self.array()?);
        let instant = jiff::Timestamp::new(seconds, nanos).ok()?;
        let offset = match self.byte()? {
            0 => None,
            _ => Some(jiff::tz::Offset::from_seconds(i32::from_le_bytes(self.array()?)).ok()?),
        };
        Some(LocalTime { instant, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::wire::{decision_json, read_decision};

    #[test]
    fn decisions_survive_the_compact_form() {
        for line in [
            r#"{"lead":"L-1","rule":"hot","line":67,"action":"pool","pool":"senior","rep":"anna","due":"2026-11-23T10:15:00+01:00","escalation":[{"at":"2026-11-23T10:30:00+01:00","to":"backup"}]}"#,
            r#"{"lead":"L-6","rule":"content","line":71,"action":"queue","queue":"nurture"}"#,
            r#"{"lead":"L-12","rule":"family","line":55,"action":"owner","rep":"maria","due":null,"escalation":[{"at":null,"to":"backup"}],"reason":[{"action":"owner of parent_account","reason":"account `Initech` is not in the roster"}]}"#,
            r#"{"lead":"ünï\"","rule":null,"action":"unassigned","due":"2026-11-23T09:00:00.25Z","reason":[{"reason":"no rule matches this lead"}]}"#,
        ] {
            let decision = read_decision(line).unwrap();
            let mut bytes = Vec::new();
            encode(&decision, &mut bytes);
            assert_eq!(lead_of(&bytes), Some(decision.lead.as_str()));
            assert_eq!(decode(&bytes).as_ref(), Some(&decision));
            assert_eq!(decision_json(&decode(&bytes).unwrap()), line);
            assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        }
    }
}
