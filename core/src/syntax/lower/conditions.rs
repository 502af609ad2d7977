//! Lowering of conditions: the `or` / `and` / `not` tree, calendar and presence tests,
//! memberships and comparisons, and the literal values in them.

use super::{Lowerer, unescape};
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Rule;
use crate::syntax::ast::*;
use pest::iterators::Pair;

impl Lowerer<'_> {
    pub(super) fn expr(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::or_expr | Rule::and_expr => {
                let is_or = pair.as_rule() == Rule::or_expr;
                let mut operands = Vec::new();
                for part in pair.into_inner() {
                    if matches!(part.as_rule(), Rule::kw_or | Rule::kw_and) {
                        continue;
                    }
                    operands.push(self.expr(part)?);
                }
                if operands.len() == 1 {
                    return operands.pop();
                }
                let kind = if is_or {
                    ExprKind::Or(operands)
                } else {
                    ExprKind::And(operands)
                };
                Some(Expr { kind, span })
            }
            Rule::not_expr => {
                let operand = pair.into_inner().find(|p| p.as_rule() != Rule::kw_not)?;
                Some(Expr {
                    kind: ExprKind::Not(Box::new(self.expr(operand)?)),
                    span,
                })
            }
            Rule::paren => {
                let inner = pair.into_inner().find(|p| p.as_rule() == Rule::or_expr)?;
                let mut expr = self.expr(inner)?;
                expr.span = span;
                Some(expr)
            }
            Rule::calendar_test => {
                let mut inner = pair.into_inner();
                let inside = inner.next()?.as_rule() == Rule::kw_inside;
                let calendar = self.ident(&inner.next()?);
                Some(Expr {
                    kind: ExprKind::Calendar { inside, calendar },
                    span,
                })
            }
            Rule::presence => {
                let mut field = None;
                let mut negated = false;
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => field = Some(self.ident(&part)),
                        Rule::kw_not => negated = true,
                        _ => {}
                    }
                }
                Some(Expr {
                    kind: ExprKind::IsSet {
                        field: field?,
                        negated,
                    },
                    span,
                })
            }
            Rule::membership => {
                let mut field = None;
                let mut negated = false;
                let mut values = Vec::new();
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => field = Some(self.ident(&part)),
                        Rule::kw_not => negated = true,
                        Rule::value => values.push(self.value(part)?),
                        _ => {}
                    }
                }
                Some(Expr {
                    kind: ExprKind::In {
                        field: field?,
                        negated,
                        values,
                    },
                    span,
                })
            }
            Rule::comparison => {
                let mut inner = pair.into_inner();
                let field = self.ident(&inner.next()?);
                let op_pair = inner.next()?;
                let op = match op_pair.as_str() {
                    "=" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let op = Spanned {
                    value: op,
                    span: self.span(&op_pair),
                };
                let value = self.value(inner.next()?)?;
                Some(Expr {
                    kind: ExprKind::Compare { field, op, value },
                    span,
                })
            }
            _ => None,
        }
    }

    pub(super) fn value(&mut self, pair: Pair<'_, Rule>) -> Option<Value> {
        let span = self.span(&pair);
        let inner = pair.into_inner().next()?;
        let kind = match inner.as_rule() {
            Rule::ident => ValueKind::Word(inner.as_str().to_string()),
            Rule::kw_null => ValueKind::Null,
            Rule::string => ValueKind::Str(unescape(inner.as_str())),
            Rule::number => {
                let text: String = inner.as_str().chars().filter(|ch| *ch != '_').collect();
                if let Ok(int) = text.parse::<i64>() {
                    ValueKind::Number(Number::Int(int))
                } else if let Ok(float) = text.parse::<f64>()
                    && float.is_finite()
                {
                    ValueKind::Number(Number::Float(float))
                } else {
                    self.errors.push(
                        Diagnostic::new(Code::InvalidLiteral, span, "number out of range")
                            .with_label("cannot be represented"),
                    );
                    ValueKind::Invalid
                }
            }
            Rule::timestamp => match inner.as_str().parse::<jiff::Timestamp>() {
                Ok(time) => ValueKind::Time(time),
                Err(error) => {
                    self.errors.push(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            format!("`{}` is not a valid time", inner.as_str()),
                        )
                        .with_label("no such time")
                        .with_help(format!("{error}")),
                    );
                    ValueKind::Invalid
                }
            },
            _ => return None,
        };
        Some(Value { kind, span })
    }
}
