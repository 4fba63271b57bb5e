//! The planner: current aws-auth + desired managed set → a plan (changes with reasons,
//! skipped entries, warnings, guard refusals) and the ConfigMap to write, if any.
//!
//! # Guarantees
//! - An unmanaged entry is never changed, moved or removed: its bytes are copied.
//! - A desired entry whose ARN an unmanaged entry already maps is skipped, with a warning
//!   naming both; a managed entry for that ARN is left exactly as it is.
//! - Managed entries are regenerated in a stable order (by ARN) only in sections that change.
//! - The result is re-read before it is offered, and must mean exactly what was intended.
//! - No change → no write ([`Plan::write`] is `None`); any refusal → no write.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::core::aws_auth::effective_mappings::EffectiveMappings;
use crate::core::aws_auth::emit::rewrite;
use crate::core::aws_auth::section::folded_key;
use crate::core::aws_auth::{
    AwsAuth, ConfigMapData, ItemValue, LEDGER_ANNOTATION, Ledger, MARK_KEY, MARK_VALUE, Mapping,
    OwnershipRules, SectionName,
};
use crate::core::desired::{DesiredMapping, DesiredSet};
use crate::core::guards::{self, Guard, GuardSettings, Phrasing, Refusal, StoreProposal};

/// Everything the planner needs.
#[derive(Debug, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// The ConfigMap as read (`None`: it does not exist yet).
    pub current: Option<&'a ConfigMapData>,
    pub desired: &'a DesiredSet,
    pub guards: GuardSettings,
    /// Principals that must never lose access (the tool's own identity).
    pub protected: &'a [String],
    pub ownership: &'a OwnershipRules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingChangeKind {
    Add,
    Change,
    Remove,
}

/// One planned change to a managed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingChange {
    pub kind: MappingChangeKind,
    pub section: SectionName,
    /// ARN or account id.
    pub key: String,
    pub before: Option<ItemValue>,
    pub after: Option<ItemValue>,
    pub reason: String,
}

/// A desired entry that was not written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSkip {
    pub section: SectionName,
    pub key: String,
    pub reason: String,
}

/// The planner's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<MappingChange>,
    pub skipped: Vec<MappingSkip>,
    pub warnings: Vec<String>,
    pub refusals: Vec<Refusal>,
    /// The ownership ledger annotation needs rewriting (even when no entry changes).
    pub ledger_changed: bool,
    /// True when the ConfigMap does not exist yet and would be created.
    pub creates: bool,
    /// The ConfigMap content to write: `Some` only when something changes and no guard refused.
    pub write: Option<ConfigMapData>,
}

impl Plan {
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || self.ledger_changed
    }

    /// The human-readable plan (`+` add, `-` remove, `~` change), then skips, warnings, refusals.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let (sign, shown) = match change.kind {
                MappingChangeKind::Add => ('+', change.after.as_ref()),
                MappingChangeKind::Remove => ('-', change.before.as_ref()),
                MappingChangeKind::Change => ('~', change.after.as_ref()),
            };
            let _ = writeln!(
                out,
                "{sign} {} {}{}  ({})",
                change.section,
                change.key,
                summary(shown),
                change.reason
            );
        }
        if self.ledger_changed && self.changes.is_empty() {
            let _ = writeln!(
                out,
                "~ annotation {LEDGER_ANNOTATION} (the ownership ledger is brought up to date)"
            );
        }
        if !self.has_changes() && !self.is_refused() {
            out.push_str("No changes: aws-auth already holds the desired managed entries.\n");
        }
        for skip in &self.skipped {
            let _ = writeln!(
                out,
                "skipped {} {}: {}",
                skip.section, skip.key, skip.reason
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        for refusal in &self.refusals {
            let _ = writeln!(out, "{refusal}");
        }
        out
    }
}

fn summary(value: Option<&ItemValue>) -> String {
    match value {
        Some(ItemValue::Mapping(m)) => {
            format!(
                "  username={} groups=[{}]",
                m.username.as_deref().unwrap_or(""),
                m.groups.join(", ")
            )
        }
        _ => String::new(),
    }
}

/// Plans one run. Pure: the same request always gives the same plan.
pub fn plan(request: &PlanRequest<'_>) -> Plan {
    plan_writes(request, MappingWrites::Sync)
}

/// Plans one run writing as `writes` says, the guards judging aws-auth alone. Pure.
pub fn plan_writes(request: &PlanRequest<'_>, writes: MappingWrites) -> Plan {
    let (mut plan, pending) = plan_unguarded(request, writes, false);
    if let Some(pending) = pending {
        let proposal = pending.proposal(request.protected);
        plan.refusals.extend(guards::check(
            &proposal.proposed(Phrasing::AwsAuth),
            &request.guards,
            request.protected,
        ));
        pending.commit(&mut plan);
    }
    plan
}

/// Which desired entries a plan writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingWrites {
    /// The store grants: desired entries are added, updated, and the others removed.
    Sync,
    /// EKS reads the store besides the one that grants: its managed entries are updated and
    /// removed like [`MappingWrites::Sync`]'s, but nothing is added (see [`crate::core::effective`]).
    ExistingOnly,
    /// Revocations only (the other store EKS reads could not be read, so grants wait): managed
    /// entries no longer desired are removed; every other entry is kept exactly as it is.
    RemovalsOnly,
}

/// A plan's write before the guards have judged it: what EKS reads before and after it, and
/// the ConfigMap to write (when something changes).
#[derive(Debug)]
pub struct Pending {
    before: EffectiveMappings,
    after: EffectiveMappings,
    managed_before: usize,
    removed: Vec<String>,
    data_size: usize,
    /// `None`: nothing to write.
    write: Option<ConfigMapData>,
}

impl Pending {
    /// The write as the guards see it.
    pub fn proposal(&self, protected: &[String]) -> StoreProposal {
        StoreProposal {
            before: self.before.access_view(protected),
            after: self.after.access_view(protected),
            managed_before: self.managed_before,
            removed: self.removed.clone(),
            data_size: Some(self.data_size),
        }
    }

    /// Offers the write in `plan`, unless something refused it.
    pub fn commit(self, plan: &mut Plan) {
        if plan.refusals.is_empty() {
            plan.write = self.write;
        }
    }
}

/// Plans one run without the guards: the plan (never with a write) and, when aws-auth parses
/// and something changes (or `always`), the pending write the guards must judge before
/// [`Pending::commit`] offers it.
pub fn plan_unguarded(
    request: &PlanRequest<'_>,
    writes: MappingWrites,
    always: bool,
) -> (Plan, Option<Pending>) {
    // Access policies and entry types in aws-auth's terms (issue 13).
    let view = request.desired.for_aws_auth();
    let request = &PlanRequest {
        desired: &view.set,
        ..*request
    };
    let empty = ConfigMapData::default();
    let current = request.current.unwrap_or(&empty);
    let mut plan = Plan {
        creates: request.current.is_none(),
        ..Plan::default()
    };
    if writes == MappingWrites::Sync {
        plan.skipped = (view.skipped.iter())
            .map(|(section, key, reason)| MappingSkip {
                section: *section,
                key: key.clone(),
                reason: reason.clone(),
            })
            .collect();
    }
    let aws_auth = match AwsAuth::read(current) {
        Ok(aws_auth) => aws_auth,
        Err(error) => {
            plan.refusals.push(Refusal {
                guard: Guard::Unparsable,
                message: format!("{error}; EKS drops such a section whole, and we never write over content we cannot parse — fix it by hand first"),
            });
            return (plan, None);
        }
    };
    plan.warnings.extend(aws_auth.warnings.iter().cloned());
    if writes == MappingWrites::Sync {
        plan.warnings
            .extend(request.desired.warnings().iter().cloned());
    }

    let mut ledger = Ledger::default();
    let mut new_data = current.data.clone();
    let mut managed_before = 0;
    let mut outcomes = Vec::with_capacity(SectionName::ALL.len());
    for name in SectionName::ALL {
        let section = aws_auth.section(name);
        let managed = request
            .ownership
            .managed_flags(section, aws_auth.ledger.as_ref());
        managed_before += managed.iter().filter(|m| **m).count();
        let outcome = plan_section(
            request,
            writes,
            &aws_auth,
            name,
            &managed,
            &mut plan,
            &mut ledger,
        );
        if outcome.changed {
            match rewrite(section, &outcome.keep, &outcome.generated) {
                Ok(text) => {
                    if !text.is_empty() || new_data.contains_key(name.key()) {
                        new_data.insert(name.key().to_owned(), text);
                    }
                }
                Err(error) => plan.refusals.push(Refusal {
                    guard: Guard::UnsafeLayout,
                    message: error.to_string(),
                }),
            }
        }
        outcomes.push((name, outcome));
    }

    let new_ledger = (!ledger.is_empty()).then(|| ledger.to_annotation());
    plan.ledger_changed = new_ledger.as_deref()
        != current
            .annotations
            .get(LEDGER_ANNOTATION)
            .map(String::as_str);
    if !plan.has_changes() && !always {
        return (plan, None);
    }
    // What EKS reads before and after the write, for the guards (built only when asked).
    let mut before = EffectiveMappings::default();
    let mut after = EffectiveMappings::default();
    for (name, outcome) in outcomes {
        let section = aws_auth.section(name);
        before.0.insert(name, section.values().cloned().collect());
        if outcome.changed {
            let kept = section
                .items
                .iter()
                .zip(&outcome.keep)
                .filter(|(_, k)| **k)
                .map(|(i, _)| i.value.clone());
            after
                .0
                .insert(name, kept.chain(outcome.generated).collect());
        } else {
            after.0.insert(name, section.values().cloned().collect());
        }
    }
    let removed: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.kind == MappingChangeKind::Remove)
        .map(|c| format!("{} {}", c.section, c.key))
        .collect();
    let data_size = new_data.iter().map(|(k, v)| k.len() + v.len()).sum();
    let write = plan.has_changes().then(|| {
        let mut annotations = current.annotations.clone();
        match new_ledger {
            Some(value) => annotations.insert(LEDGER_ANNOTATION.to_owned(), value),
            None => annotations.remove(LEDGER_ANNOTATION),
        };
        ConfigMapData {
            data: new_data,
            annotations,
        }
    });
    let pending = Pending {
        before,
        after,
        managed_before,
        removed,
        data_size,
        write,
    };
    (plan, Some(pending))
}

struct SectionOutcome {
    changed: bool,
    keep: Vec<bool>,
    /// The managed entries to write (only filled when the section changes).
    generated: Vec<ItemValue>,
}

fn plan_section(
    request: &PlanRequest<'_>,
    writes: MappingWrites,
    aws_auth: &AwsAuth,
    name: SectionName,
    managed: &[bool],
    plan: &mut Plan,
    ledger: &mut Ledger,
) -> SectionOutcome {
    let section = aws_auth.section(name);
    let mut unmanaged_by_key: HashMap<Cow<'_, str>, usize> = HashMap::new();
    let mut managed_by_key: HashMap<Cow<'_, str>, Vec<usize>> = HashMap::new();
    for (index, (value, &is_managed)) in section.values().zip(managed).enumerate() {
        let key = folded_key(value.key());
        if is_managed {
            managed_by_key.entry(key).or_default().push(index);
        } else {
            unmanaged_by_key.insert(key, index);
        }
    }
    let mut keep: Vec<bool> = managed.iter().map(|m| !m).collect();
    let mut handled = vec![false; section.items.len()];
    let mut generated = Vec::new();
    let changes_before = plan.changes.len();

    for desired in desired_items(request.desired, name) {
        let (key, reason) = (desired.key(), desired.reason());
        let lower = folded_key(key);
        let current = managed_by_key.get(lower.as_ref());
        if current.is_none() && writes != MappingWrites::Sync {
            continue; // this store only keeps what it holds
        }
        if let Some(&index) = unmanaged_by_key.get(lower.as_ref()) {
            let holder = describe_item(name, index, &section.items[index].value);
            plan.skipped.push(MappingSkip {
                section: name,
                key: key.to_owned(),
                reason: format!("already mapped by an unmanaged entry ({holder}); writing it would shadow or be shadowed"),
            });
            plan.warnings.push(format!(
                "desired {name} {key} ({reason}) collides with unmanaged {holder}; left as it is"
            ));
            for &i in current.into_iter().flatten() {
                keep[i] = true;
                handled[i] = true;
                ledger.insert(name, key);
            }
            continue;
        }
        ledger.insert(name, key);
        if let (MappingWrites::RemovalsOnly, Some(indices)) = (writes, current) {
            for &i in indices {
                handled[i] = true;
            }
            let last = &section.items[*indices.last().unwrap_or(&0)].value;
            generated.push(WantedItem::Kept(last));
            continue;
        }
        match current {
            None => plan.changes.push(MappingChange {
                kind: MappingChangeKind::Add,
                section: name,
                key: key.to_owned(),
                before: None,
                after: Some(desired.value()),
                reason: reason.to_owned(),
            }),
            Some(indices) => {
                for &i in indices {
                    handled[i] = true;
                }
                let last = &section.items[*indices.last().unwrap_or(&0)].value;
                let differences = differences(last, &desired, indices.len());
                if !differences.is_empty() {
                    plan.changes.push(MappingChange {
                        kind: MappingChangeKind::Change,
                        section: name,
                        key: key.to_owned(),
                        before: Some(last.clone()),
                        after: Some(desired.value()),
                        reason: format!("{} ({reason})", differences.join("; ")),
                    });
                }
            }
        }
        generated.push(desired);
    }

    for (index, (value, &is_managed)) in section.values().zip(managed).enumerate() {
        if is_managed && !handled[index] {
            plan.changes.push(MappingChange {
                kind: MappingChangeKind::Remove,
                section: name,
                key: value.key().to_owned(),
                before: Some(value.clone()),
                after: None,
                reason: "managed by eks-iam-sync and no longer desired".to_owned(),
            });
        }
    }
    let changed = plan.changes.len() > changes_before;
    SectionOutcome {
        changed,
        keep,
        generated: if changed {
            generated.iter().map(WantedItem::value).collect()
        } else {
            Vec::new()
        },
    }
}

/// A desired entry of a section, borrowed from the desired set; [`WantedItem::value`] is the
/// entry as it is to be written.
enum WantedItem<'a> {
    Mapping(&'a DesiredMapping),
    /// Account id and reason.
    Account(&'a str, &'a str),
    /// A current managed entry kept as it is ([`MappingWrites::RemovalsOnly`]).
    Kept(&'a ItemValue),
}

impl WantedItem<'_> {
    fn key(&self) -> &str {
        match self {
            WantedItem::Mapping(d) => &d.arn,
            WantedItem::Account(id, _) => id,
            WantedItem::Kept(v) => v.key(),
        }
    }

    fn reason(&self) -> &str {
        match self {
            WantedItem::Mapping(d) => &d.reason,
            WantedItem::Account(_, why) => why,
            WantedItem::Kept(_) => "kept as it is",
        }
    }

    fn value(&self) -> ItemValue {
        match self {
            WantedItem::Mapping(d) => ItemValue::Mapping(Mapping {
                arn: d.arn.clone(),
                username: Some(d.username.clone()),
                groups: d.groups.clone(),
                extra: vec![(MARK_KEY.to_owned(), MARK_VALUE.to_owned())],
            }),
            WantedItem::Account(id, _) => ItemValue::Account((*id).to_owned()),
            WantedItem::Kept(v) => (*v).clone(),
        }
    }
}

/// The desired entries of a section, in the order they are written.
fn desired_items(desired: &DesiredSet, name: SectionName) -> Vec<WantedItem<'_>> {
    if name == SectionName::MapAccounts {
        return desired
            .accounts()
            .map(|(id, why)| WantedItem::Account(id, why))
            .collect();
    }
    desired
        .mappings(name)
        .into_iter()
        .map(WantedItem::Mapping)
        .collect()
}

/// How a current managed entry differs from what we would write (empty: it doesn't).
fn differences(current: &ItemValue, intended: &WantedItem<'_>, copies: usize) -> Vec<String> {
    let mut out = Vec::new();
    if let (ItemValue::Mapping(now), WantedItem::Mapping(want)) = (current, intended) {
        if now.arn != want.arn {
            out.push(format!("ARN {} written as {}", now.arn, want.arn));
        }
        if now.username.as_deref() != Some(want.username.as_str()) {
            out.push(format!(
                "username {} → {}",
                now.username.as_deref().unwrap_or("(none)"),
                want.username
            ));
        }
        if now.groups != want.groups {
            out.push(format!(
                "groups [{}] → [{}]",
                now.groups.join(", "),
                want.groups.join(", ")
            ));
        }
        let ours = |m: &Mapping| {
            m.extra
                .iter()
                .any(|(k, v)| k == MARK_KEY && v == MARK_VALUE)
        };
        if !ours(now) {
            // Owned through the ledger (another tool stripped the mark) or through an adopted mark.
            out.push(format!(
                "ownership mark `{MARK_KEY}: {MARK_VALUE}` written (the entry was ours without it)"
            ));
        }
    }
    if copies > 1 {
        out.push(format!("{copies} managed copies merged into one"));
    }
    out
}

fn describe_item(name: SectionName, index: usize, value: &ItemValue) -> String {
    match value {
        ItemValue::Mapping(m) => format!(
            "{name}[{index}] {} username={}",
            m.arn,
            m.username.as_deref().unwrap_or("(none)")
        ),
        ItemValue::Account(a) => format!("{name}[{index}] {a}"),
    }
}
