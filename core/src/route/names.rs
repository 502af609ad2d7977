//! The names a router's decisions hold, made once when the router is built and shared by every
//! decision after it (a decision clones a [`Name`], it does not copy the text): the policy's
//! rule labels, pools, members, queues, escalation targets, tags and scores, the actions as
//! reasons write them, and the reps the roster knows. A name that none of them holds (a rep
//! a lead's field names) is made for the decision that needs it.

use super::decision::Name;
use super::roster::Roster;
use crate::model::Policy;
use std::collections::{HashMap, HashSet};

/// The shared names of one policy and roster.
#[derive(Debug, Default)]
pub(super) struct Names {
    known: HashSet<Name, foldhash::fast::RandomState>,
    /// Per rule, per action: the action as written (`pool senior`), as a reason names it.
    actions: Vec<Vec<Name>>,
    /// Per rule: its label, as every decision by it names it.
    labels: Vec<Name>,
    /// Per rule, per escalation step: its target, as a decision's escalation names it.
    targets: Vec<Vec<Name>>,
    /// Per pool name (the first pool of a name, as the router finds it): its name and members,
    /// as every decision by the pool names them, and its action as a trace names it.
    pools: HashMap<Name, PoolNames, foldhash::fast::RandomState>,
    /// Per queue: its action as a trace names it (`queue nurture`).
    queues: HashMap<Name, Name, foldhash::fast::RandomState>,
    /// Every name above as a JSON string, for the decisions written out.
    pub(super) quoted: super::wire::QuotedNames,
}

/// A pool's names as decisions and traces give them, shared by all of them (a store that keeps
/// traces knows a name it has seen again by its address, without reading it).
#[derive(Debug)]
pub(super) struct PoolNames {
    /// `pool senior`.
    pub(super) action: Name,
    /// The members, in the pool's order.
    pub(super) members: Vec<Name>,
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
        // Actions as written, each text one name: a reason and a trace that name the same
        // action share it (a store that keeps both knows it again by its address).
        let mut written: HashSet<Name, foldhash::fast::RandomState> = HashSet::default();
        let mut action_name = |text: String| match written.get(text.as_str()) {
            Some(name) => name.clone(),
            None => {
                let name = Name::from(text);
                written.insert(name.clone());
                name
            }
        };
        let actions: Vec<Vec<Name>> = policy
            .rules
            .iter()
            .map(|rule| {
                rule.syntax
                    .actions
                    .iter()
                    .map(|action| action_name(action.kind.describe()))
                    .collect()
            })
            .collect();
        let labels: Vec<Name> = policy
            .rules
            .iter()
            .map(|rule| shared_in(&known, &rule.label))
            .collect();
        let targets = policy
            .rules
            .iter()
            .map(|rule| {
                rule.syntax
                    .escalations
                    .iter()
                    .map(|escalation| shared_in(&known, &escalation.target.name))
                    .collect()
            })
            .collect();
        let shared = |text: &str| shared_in(&known, text);
        let mut pools: HashMap<Name, PoolNames, foldhash::fast::RandomState> = HashMap::default();
        for pool in &policy.pools {
            pools
                .entry(shared(&pool.name))
                .or_insert_with(|| PoolNames {
                    action: action_name(format!("pool {}", pool.name)),
                    members: pool.members.iter().map(|member| shared(member)).collect(),
                });
        }
        let queues = policy
            .queues
            .iter()
            .map(|queue| (shared(queue), action_name(format!("queue {queue}"))))
            .collect();
        let quoted = super::wire::QuotedNames::new(known.iter().chain(actions.iter().flatten()))
            .with_rules(
                labels
                    .iter()
                    .zip(&policy.rules)
                    .map(|(label, rule)| (label, rule.line)),
            );
        Names {
            known,
            actions,
            labels,
            targets,
            pools,
            queues,
            quoted,
        }
    }

    /// The names of the pool named `pool`, as decisions and traces give them.
    pub(super) fn pool(&self, pool: &str) -> Option<&PoolNames> {
        self.pools.get(pool)
    }

    /// [`Names::pool`], with the pool's own shared name (the table's key).
    pub(super) fn pool_with_name(&self, pool: &str) -> Option<(&Name, &PoolNames)> {
        self.pools.get_key_value(pool)
    }

    /// `pool NAME` as a trace names the action, shared when the policy has the pool.
    pub(super) fn pool_action(&self, pool: &str) -> Name {
        self.pool(pool).map_or_else(
            || Name::from(format!("pool {pool}")),
            |names| names.action.clone(),
        )
    }

    /// `queue NAME` as a trace names the action, shared when the policy has the queue.
    pub(super) fn queue_action(&self, queue: &str) -> Name {
        self.queues
            .get(queue)
            .cloned()
            .unwrap_or_else(|| Name::from(format!("queue {queue}")))
    }

    /// Member `index` of the pool `names` holds, when it is `rep` (else `rep` shared).
    pub(super) fn member(&self, names: Option<&PoolNames>, index: usize, rep: &str) -> Name {
        match names.and_then(|names| names.members.get(index)) {
            Some(member) if super::reader::same_bytes(member.as_bytes(), rep.as_bytes()) => {
                member.clone()
            }
            _ => self.shared(rep),
        }
    }

    /// The target of escalation step `step` of rule `rule` (its index in the policy), when
    /// the policy has them.
    pub(super) fn target(&self, rule: usize, step: usize) -> Option<&Name> {
        self.targets.get(rule)?.get(step)
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
        shared_in(&self.known, text)
    }

    /// Action `action` of rule `rule` as written, as a reason names it.
    pub(super) fn action(&self, rule: usize, action: usize) -> Option<&Name> {
        self.actions.get(rule)?.get(action)
    }
}

/// `text` as a shared name of `known`: the one held, else made now.
fn shared_in(known: &HashSet<Name, foldhash::fast::RandomState>, text: &str) -> Name {
    known.get(text).cloned().unwrap_or_else(|| Name::from(text))
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
        // A trace's action is the reason's own name, and a pool's members are the shared
        // names: a store that keeps traces knows each again by its address.
        let pool = names.pool("senior").expect("the pool's names");
        assert!(Arc::ptr_eq(&pool.action, names.action(0, 0).unwrap()));
        assert!(Arc::ptr_eq(&names.pool_action("senior"), &pool.action));
        assert!(Arc::ptr_eq(
            &names.queue_action("nurture"),
            names.action(0, 1).unwrap()
        ));
        for (index, member) in ["anna", "boris"].into_iter().enumerate() {
            assert!(Arc::ptr_eq(
                &names.member(Some(pool), index, member),
                &names.shared(member)
            ));
        }
        // A rep the pool does not hold at that place is not taken for its member there.
        assert_eq!(&*names.member(Some(pool), 0, "boris"), "boris");
        assert_eq!(&*names.member(Some(pool), 5, "carol"), "carol");
        assert_eq!(&*names.pool_action("juniors"), "pool juniors");
        assert_eq!(&*names.queue_action("later"), "queue later");
    }
}
