//! The names a router's decisions hold, made once when the router is built and shared by every
//! decision after it (a decision clones a [`Name`], it does not copy the text): the policy's
//! rule labels, pools, members, queues, escalation targets, tags and scores, the actions as
//! reasons write them, and the reps the roster knows. A name that none of them holds (a rep
//! a lead's field names) is made for the decision that needs it.

use super::decision::Name;
use super::roster::Roster;
use crate::model::Policy;
use std::collections::HashSet;

/// The shared names of one policy and roster.
#[derive(Debug, Default)]
pub(super) struct Names {
    known: HashSet<Name, foldhash::fast::RandomState>,
    /// Per rule, per action: the action as written (`pool senior`), as a reason names it.
    actions: Vec<Vec<Name>>,
    /// Per rule: its label, as every decision by it names it.
    labels: Vec<Name>,
    /// Every name above as a JSON string, for the decisions written out.
    pub(super) quoted: super::wire::QuotedNames,
}

impl Names {
    pub(super) fn new(policy: &Policy, roster: Option<&Roster>) -> Names {
        let mut known: HashSet<Name, foldhash::fast::RandomState> = HashSet::default();
        let mut learn = |text: &str| {
            if !known.contains(text) {
                known.insert(Name::from(text));
            }
        };
        for rule in &policy.rules {
            learn(&rule.label);
            for escalation in &rule.syntax.escalations {
                learn(&escalation.target.name);
            }
        }
        for pool in &policy.pools {
            learn(&pool.name);
            for member in &pool.members {
                learn(member);
            }
        }
        for name in policy
            .queues
            .iter()
            .chain(&policy.tags)
            .chain(policy.reps.iter().map(|rep| &rep.name))
            .chain(policy.scores.iter().map(|score| &score.name))
        {
            learn(name);
        }
        for rep in roster.iter().flat_map(|roster| roster.reps.keys()) {
            learn(rep);
        }
        let actions: Vec<Vec<Name>> = policy
            .rules
            .iter()
            .map(|rule| {
                rule.syntax
                    .actions
                    .iter()
                    .map(|action| Name::from(action.kind.describe()))
                    .collect()
            })
            .collect();
        let labels = policy
            .rules
            .iter()
            .map(|rule| {
                known
                    .get(rule.label.as_str())
                    .cloned()
                    .unwrap_or_else(|| Name::from(rule.label.as_str()))
            })
            .collect();
        let quoted = super::wire::QuotedNames::new(known.iter().chain(actions.iter().flatten()));
        Names {
            known,
            actions,
            labels,
            quoted,
        }
    }

    /// The label of rule `rule` (its index in the policy), shared; `text` made now for an
    /// index the policy does not have.
    pub(super) fn rule_label(&self, rule: usize, text: &str) -> Name {
        match self.labels.get(rule) {
            Some(label) => label.clone(),
            None => self.shared(text),
        }
    }

    /// `text` as a shared name: the known one, else made now.
    pub(super) fn shared(&self, text: &str) -> Name {
        self.known
            .get(text)
            .cloned()
            .unwrap_or_else(|| Name::from(text))
    }

    /// Action `action` of rule `rule` as written, as a reason names it.
    pub(super) fn action(&self, rule: usize, action: usize) -> Option<&Name> {
        self.actions.get(rule)?.get(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn known_names_are_shared_and_others_made() {
        let source = "schema lead { id: string  intent: enum { low, high }  created_at: time }\n\
                      queue nurture\n\
                      pool senior { members anna, boris  strategy round_robin }\n\
                      when intent=high -> pool senior else queue nurture within 1h escalate boris\n\
                      otherwise -> queue nurture\n";
        let report = crate::pipeline::check_source(source);
        let (policy, _) = report.compiled.expect("the policy checks");
        let names = Names::new(&policy, None);
        for text in ["senior", "anna", "boris", "nurture", "#1"] {
            let first = names.shared(text);
            assert!(
                Arc::ptr_eq(&first, &names.shared(text)),
                "`{text}` is shared"
            );
            assert_eq!(&*first, text);
        }
        let made = names.shared("carol");
        assert_eq!(&*made, "carol");
        assert!(!Arc::ptr_eq(&made, &names.shared("carol")));
        assert_eq!(names.action(0, 0).map(|name| &**name), Some("pool senior"));
        assert_eq!(
            names.action(0, 1).map(|name| &**name),
            Some("queue nurture")
        );
        assert_eq!(names.action(0, 2), None);
        assert_eq!(
            names.action(1, 0).map(|name| &**name),
            Some("queue nurture")
        );
        assert_eq!(names.action(2, 0), None);
        // Rule labels by index: the shared name itself.
        for (index, label) in ["#1", "#2"].into_iter().enumerate() {
            assert!(Arc::ptr_eq(
                &names.rule_label(index, label),
                &names.shared(label)
            ));
        }
        assert_eq!(&*names.rule_label(7, "#8"), "#8");
    }
}
