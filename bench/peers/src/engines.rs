//! The engines, each taking one NDJSON line (JSON text) to one output line, the way a user of
//! it would write the loop:
//!
//! - `floor`: serde_json parses the line into a `Value`; a small JSON object is written
//!   (`{"lead":ID,"ok":true}`), as in `bench/route.rs`.
//! - `switchboard`: the rule decision of `switchboard route`: the lead reader (`parse_lead`:
//!   streaming, schema fields only, validated), then the compiled policy (`Compiled::evaluate`:
//!   the flat decision graph), then `{"lead":ID,"rule":LABEL}`.
//! - `switchboard-route`: all of `switchboard route` for one line (`Router::route_line` with the
//!   in-memory state): the rule decision, then actions, pool strategy and rep, due time,
//!   escalation, the ledger, and the full decision JSON. Not comparable work: reported apart.
//! - `zen`: the line deserialised straight into ZEN's `Variable`, `Decision::evaluate` on the
//!   compiled JDM graph (input -> decision table, hit policy first -> output), then
//!   `{"lead":ID,"rule":LABEL}`.
//! - `cel`: the line parsed into a serde_json `Value`, bound as `lead` in one reused CEL
//!   context, each rule's compiled program executed in order until one is true, then
//!   `{"lead":ID,"rule":LABEL}`.
//!
//! The three rule engines write byte-identical lines for the same decision, so agreement is
//! checked by comparing outputs.

use crate::translate::CelRule;
use std::future::Future;
use std::task::{Poll, Waker};
use switchboard::graph::{Compiled, Outcome};
use switchboard::model::{EvalContext, Policy};
use switchboard::route::reader::{Limits, parse_lead};
use switchboard::route::state::MemoryState;
use switchboard::route::{RouteConfig, Router};

/// One engine: a line of JSON text in, one line out. `false` when the engine failed on the
/// line (a benchmark must have none).
pub trait Engine {
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool;
    /// Forget state between runs (only the full router has any).
    fn reset(&mut self) {}
}

/// Appends `{"lead":ID,"rule":LABEL}` and a newline (`null` when no rule matched).
pub fn write_decision(out: &mut Vec<u8>, lead: &str, rule: Option<&str>) {
    out.extend_from_slice(b"{\"lead\":");
    json_string(out, lead);
    out.extend_from_slice(b",\"rule\":");
    match rule {
        Some(rule) => json_string(out, rule),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}\n");
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(
            serde_json::Value::String(text.to_string())
                .to_string()
                .as_bytes(),
        );
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

pub struct Floor;

impl Engine for Floor {
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
            return false;
        };
        let id = value
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        out.extend_from_slice(
            serde_json::json!({ "lead": id, "ok": true })
                .to_string()
                .as_bytes(),
        );
        out.push(b'\n');
        true
    }
}

pub struct Switchboard<'a> {
    pub policy: &'a Policy,
    pub compiled: &'a Compiled,
    pub context: EvalContext,
    pub limits: Limits,
}

impl Engine for Switchboard<'_> {
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(parsed) = parse_lead(self.policy, line, &self.limits) else {
            return false;
        };
        let rule = match self
            .compiled
            .evaluate(self.policy, &parsed.lead, &self.context)
        {
            Outcome::Rule(index) => self.policy.rules.get(index).map(|r| r.label.as_str()),
            Outcome::NoMatch => None,
        };
        write_decision(out, &parsed.id, rule);
        true
    }
}

pub struct SwitchboardRoute<'a> {
    pub router: Router<'a>,
    pub state: MemoryState,
    pub number: usize,
    /// The decision line being written.
    text: String,
}

impl<'a> SwitchboardRoute<'a> {
    pub fn new(
        policy: &'a Policy,
        compiled: &'a Compiled,
        config: RouteConfig,
        text: &str,
    ) -> Self {
        SwitchboardRoute {
            router: Router::new(policy, compiled, None, config, text),
            state: MemoryState::default(),
            number: 0,
            text: String::with_capacity(256),
        }
    }
}

impl Engine for SwitchboardRoute<'_> {
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        self.number += 1;
        match self.router.route_line(&mut self.state, line) {
            Ok(outcome) if !outcome.is_error() => {
                self.text.clear();
                switchboard::route::wire::write_outcome(&mut self.text, &outcome, self.number);
                out.extend_from_slice(self.text.as_bytes());
                out.push(b'\n');
                true
            }
            _ => false,
        }
    }

    fn reset(&mut self) {
        self.state = MemoryState::default();
        self.number = 0;
    }
}

pub struct Zen {
    pub decision: zen_engine::Decision,
}

impl Zen {
    /// The decision for a JDM graph, compiled (expressions to bytecode, table indexes built).
    pub fn new(jdm: serde_json::Value) -> Result<Zen, String> {
        // Keep each node's result out of the evaluation context (ZEN's default copies it in):
        // nothing here reads `$nodes`, and it is the faster setting.
        zen_engine::ZEN_CONFIG
            .nodes_in_context
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let content: zen_engine::model::GraphContent =
            serde_json::from_value(jdm).map_err(|e| format!("JDM: {e}"))?;
        let mut decision = zen_engine::Decision::from(content);
        decision.validate().map_err(|e| format!("JDM: {e:?}"))?;
        decision.compile();
        Ok(Zen { decision })
    }
}

/// Runs a future that never waits (ZEN's decision tables do no I/O) to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

impl Engine for Zen {
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(input) = serde_json::from_slice::<zen_engine::Variable>(line) else {
            return false;
        };
        let id = input.dot("id");
        let Ok(response) = block_on(self.decision.evaluate(input)) else {
            return false;
        };
        let rule = response.result.dot("rule");
        write_decision(
            out,
            id.as_ref().and_then(|id| id.as_str()).unwrap_or(""),
            rule.as_ref().and_then(|rule| rule.as_str()),
        );
        true
    }
}

pub struct Cel {
    pub rules: Vec<(String, cel::Program)>,
    pub context: cel::Context<'static, 'static>,
}

impl Cel {
    pub fn new(rules: &[CelRule]) -> Result<Cel, String> {
        let rules = rules
            .iter()
            .map(|rule| {
                cel::Program::compile(&rule.source)
                    .map(|program| (rule.label.clone(), program))
                    .map_err(|e| format!("CEL for rule {}: {e}\n{}", rule.label, rule.source))
            })
            .collect::<Result<_, _>>()?;
        Ok(Cel {
            rules,
            context: cel::Context::default(),
        })
    }
}

impl Engine for Cel {
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(lead) = serde_json::from_slice::<serde_json::Value>(line) else {
            return false;
        };
        if self.context.add_variable("lead", &lead).is_err() {
            return false;
        }
        let mut rule = None;
        for (label, program) in &self.rules {
            match program.execute(&self.context) {
                Ok(cel::Value::Bool(true)) => {
                    rule = Some(label.as_str());
                    break;
                }
                Ok(cel::Value::Bool(false)) => {}
                // An error or a non-boolean is a translation bug: fail the line.
                _ => return false,
            }
        }
        let id = lead
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        write_decision(out, id, rule);
        true
    }
}
