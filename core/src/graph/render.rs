//! Pictures of the decision graph: Graphviz `dot` and Mermaid. Shared nodes are drawn once;
//! branches of one node that lead to the same child are drawn as one edge with all their labels.

use super::example::{Step, branches};
use super::{Graph, Node, NodeId, Outcome};
use crate::model::FieldType;
use crate::model::{Bound, Policy, Scalar};
use std::fmt::Write;

/// The picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
}

/// Renders the graph reachable from its root.
pub fn render(policy: &Policy, graph: &Graph, format: Format) -> String {
    let order = reachable(graph);
    let mut out = String::new();
    match format {
        Format::Dot => {
            out.push_str("digraph policy {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
        }
        Format::Mermaid => out.push_str("flowchart TD\n"),
    }
    for id in &order {
        let Some(node) = graph.nodes.get(*id as usize) else {
            continue;
        };
        let label = node_label(policy, node);
        match (format, node) {
            (Format::Dot, Node::Leaf(Outcome::NoMatch)) => {
                let _ = writeln!(
                    out,
                    "  n{id} [label=\"{}\", shape=box, style=\"filled,dashed\", fillcolor=\"#fde2e1\"];",
                    dot_escape(&label)
                );
            }
            (Format::Dot, Node::Leaf(_)) => {
                let _ = writeln!(
                    out,
                    "  n{id} [label=\"{}\", shape=box, style=filled, fillcolor=\"#e3f1e3\"];",
                    dot_escape(&label)
                );
            }
            (Format::Dot, _) => {
                let _ = writeln!(
                    out,
                    "  n{id} [label=\"{}\", shape=ellipse];",
                    dot_escape(&label)
                );
            }
            (Format::Mermaid, Node::Leaf(_)) => {
                let _ = writeln!(out, "  n{id}[\"{}\"]", mermaid_escape(&label));
            }
            (Format::Mermaid, _) => {
                let _ = writeln!(out, "  n{id}{{\"{}\"}}", mermaid_escape(&label));
            }
        }
    }
    for id in &order {
        let Some(node) = graph.nodes.get(*id as usize) else {
            continue;
        };
        // One edge per distinct child, labelled with every branch that leads there.
        let mut edges: Vec<(NodeId, Vec<String>)> = Vec::new();
        for (step, child) in branches(node) {
            let label = step_label(policy, &step);
            match edges.iter_mut().find(|(c, _)| *c == child) {
                Some((_, labels)) => labels.push(label),
                None => edges.push((child, vec![label])),
            }
        }
        for (child, labels) in edges {
            let label = labels.join(", ");
            match format {
                Format::Dot => {
                    let _ = writeln!(
                        out,
                        "  n{id} -> n{child} [label=\"{}\"];",
                        dot_escape(&label)
                    );
                }
                Format::Mermaid => {
                    let _ = writeln!(out, "  n{id} -->|\"{}\"| n{child}", mermaid_escape(&label));
                }
            }
        }
    }
    if format == Format::Dot {
        out.push_str("}\n");
    }
    out
}

/// Nodes reachable from the root, in depth-first order (each once).
fn reachable(graph: &Graph) -> Vec<NodeId> {
    let mut seen = vec![false; graph.nodes.len()];
    let mut order = Vec::new();
    let mut stack = vec![graph.root];
    while let Some(id) = stack.pop() {
        if seen.get(id as usize).copied().unwrap_or(true) {
            continue;
        }
        seen[id as usize] = true;
        order.push(id);
        if let Some(node) = graph.nodes.get(id as usize) {
            let children = node.children();
            stack.extend(children.into_iter().rev());
        }
    }
    order
}

fn node_label(policy: &Policy, node: &Node) -> String {
    let field = |field: &usize| {
        policy
            .fields
            .get(*field)
            .map_or("?".to_string(), |f| f.name.clone())
    };
    match node {
        Node::Leaf(Outcome::NoMatch) => "no rule matches".to_string(),
        Node::Leaf(Outcome::Rule(index)) => match policy.rules.get(*index) {
            Some(rule) if rule.is_otherwise && rule.syntax.name.is_none() => {
                format!("otherwise\n{}", actions(rule))
            }
            Some(rule) => format!("{}\n{}", rule.label, actions(rule)),
            None => "?".to_string(),
        },
        Node::Variants { field: f, .. }
        | Node::Strings { field: f, .. }
        | Node::Ranges { field: f, .. } => field(f),
        Node::Presence { field: f, .. } => format!("{} set?", field(f)),
        Node::Calendar { calendar, .. } => {
            format!(
                "{} hours?",
                policy
                    .calendars
                    .get(*calendar)
                    .map_or("?", |c| c.name.as_str())
            )
        }
    }
}

/// "pool senior else queue review".
fn actions(rule: &crate::model::RuleDef) -> String {
    rule.syntax
        .actions
        .iter()
        .map(|action| action.kind.describe())
        .collect::<Vec<_>>()
        .join(" else ")
}

pub(crate) fn step_label(policy: &Policy, step: &Step) -> String {
    match step {
        Step::Absent(_) => "not set".to_string(),
        Step::Present(_) => "set".to_string(),
        Step::Variant(field, variant) => match policy.fields.get(*field).map(|f| &f.ty) {
            Some(FieldType::Enum(variants)) => {
                variants.get(*variant as usize).cloned().unwrap_or_default()
            }
            _ => (if *variant == 1 { "true" } else { "false" }).to_string(),
        },
        // As a policy writes the string: quotes, backslashes and control characters escaped.
        Step::Str(_, text) => serde_json::Value::from(text.as_str()).to_string(),
        Step::OtherString(..) => "other".to_string(),
        Step::Range(field, region) => {
            let is_time = policy
                .fields
                .get(*field)
                .is_some_and(|f| f.ty == FieldType::Time);
            let show = |value: Scalar| match value {
                Scalar::Int(nanos) if is_time => jiff::Timestamp::from_nanosecond(nanos)
                    .map_or("?".to_string(), |t| t.to_string()),
                Scalar::Int(int) => int.to_string(),
                Scalar::Float(float) => float.to_string(),
            };
            match (region.lo, region.hi) {
                (Bound::Inclusive(lo), Bound::Inclusive(hi)) if lo == hi => {
                    format!("= {}", show(lo))
                }
                (Bound::Unbounded, Bound::Unbounded) => "any".to_string(),
                (Bound::Unbounded, Bound::Inclusive(hi)) => format!("<= {}", show(hi)),
                (Bound::Unbounded, Bound::Exclusive(hi)) => format!("< {}", show(hi)),
                (Bound::Inclusive(lo), Bound::Unbounded) => format!(">= {}", show(lo)),
                (Bound::Exclusive(lo), Bound::Unbounded) => format!("> {}", show(lo)),
                (lo, hi) => {
                    let left = match lo {
                        Bound::Inclusive(v) => format!("[{}", show(v)),
                        Bound::Exclusive(v) => format!("({}", show(v)),
                        Bound::Unbounded => "(".to_string(),
                    };
                    let right = match hi {
                        Bound::Inclusive(v) => format!("{}]", show(v)),
                        Bound::Exclusive(v) => format!("{})", show(v)),
                        Bound::Unbounded => ")".to_string(),
                    };
                    format!("{left}, {right}")
                }
            }
        }
        Step::Inside(_, inside) => (if *inside { "inside" } else { "outside" }).to_string(),
    }
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Mermaid reads labels as HTML and `#name;` as an entity: a quote, a `<` that could open a tag
/// (before a letter, `/` or `!`), a `&` and a `#` that could start an entity are written as
/// entities, so a value such as `<b>` or `#quot;` is shown as written, not rendered. A range's
/// `< 10000` stays as it is.
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        let next = chars.peek().copied();
        match ch {
            '"' => out.push_str("#quot;"),
            '\n' => out.push_str("<br/>"),
            '<' if next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!')) => {
                out.push_str("#lt;");
            }
            '&' => out.push_str("#amp;"),
            '#' if next.is_some_and(|n| n.is_ascii_alphanumeric()) => out.push_str("#35;"),
            _ => out.push(ch),
        }
    }
    out
}
