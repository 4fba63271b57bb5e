//! What this instance remembers of each cluster's access entries between full runs, and the
//! amortized read built on it (issue 21): list every entry, describe what
//! [`crate::core::access_entries::rotation`] says is due (unknown entries, entries older than
//! `driftRepairInterval`, a rotating share), take the rest from memory.
//!
//! Memory never decides a write: whatever a plan would change is described again first, and
//! a plan that takes cluster-admin or node access from anyone is made on a fresh read of
//! every entry (the backend's loop, `access_entries`). Which principals hold an entry always
//! comes from this run's listing. A failed run forgets the cluster; an entry a run changed is
//! forgotten (the next run describes it again).
//!
//! Bounded: an instance remembers at most [`MAX_REMEMBERED_ENTRIES`] entries over all its
//! clusters (about 1.3 KB each, `benches/entry_memory.rs`: ~33 MB of a 128 MB function). Past
//! it, the clusters run longest ago are forgotten first; their next run costs what a cold
//! instance's does.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::aws::access_entries::{AccessEntryError, AccessEntryStore};
use crate::core::access_entries::rotation::{Listed, due_for_reading, to_read_again};
use crate::core::access_entries::{CurrentEntry, EntryChange, principal_key};

use super::report::EntryReads;

/// The most entries one instance remembers, over all clusters.
pub const MAX_REMEMBERED_ENTRIES: usize = 25_000;

/// Remembered entries per cluster (one memory per reconciler, i.e. per Lambda instance).
#[derive(Debug)]
pub(super) struct EntryMemory {
    clusters: Mutex<HashMap<String, ClusterMemory>>,
    max_entries: usize,
}

impl Default for EntryMemory {
    fn default() -> EntryMemory {
        EntryMemory::with_capacity(MAX_REMEMBERED_ENTRIES)
    }
}

#[derive(Debug, Default, Clone)]
struct ClusterMemory {
    /// Principal key → the entry as last described, and when.
    entries: HashMap<String, (CurrentEntry, Instant)>,
    /// When this instance last finished a full run of the cluster.
    last_run: Option<Instant>,
}

/// What [`EntryMemory::settle`] asks of a plan.
pub(super) struct PlanFacts<'a> {
    pub changes: &'a [EntryChange],
    pub refused: bool,
    pub takes_from_other_store: bool,
    pub needs_every_policy: bool,
}

/// One full run's read of a cluster's entries.
#[derive(Debug)]
pub(super) struct AmortizedRead {
    /// Every listed entry: described now, or from memory.
    pub current: Vec<CurrentEntry>,
    /// Keys of the entries taken from memory (not described in this run).
    pub from_memory: BTreeSet<String>,
    /// When each entry was described (for remembering them after the run).
    read_at: HashMap<String, Instant>,
    pub stats: EntryReads,
}

impl EntryMemory {
    /// A memory of at most `max_entries` entries.
    fn with_capacity(max_entries: usize) -> EntryMemory {
        EntryMemory {
            clusters: Mutex::default(),
            max_entries,
        }
    }

    fn snapshot(&self, cluster: &str) -> ClusterMemory {
        let clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        clusters.get(cluster).cloned().unwrap_or_default()
    }

    /// Forgets the cluster: its next full run describes every entry.
    pub(super) fn forget(&self, cluster: &str) {
        let mut clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        clusters.remove(cluster);
    }

    /// Remembers what a finished run read, except the entries it changed (`changed` keys).
    pub(super) fn remember(&self, cluster: &str, read: &AmortizedRead, changed: &BTreeSet<String>) {
        let entries = read
            .current
            .iter()
            .filter_map(|entry| {
                let key = principal_key(&entry.principal_arn);
                let at = *read.read_at.get(&key)?;
                (!changed.contains(&key)).then(|| (key, (entry.clone(), at)))
            })
            .collect();
        let memory = ClusterMemory {
            entries,
            last_run: Some(Instant::now()),
        };
        let mut clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        clusters.insert(cluster.to_owned(), memory);
        // Over the bound: forget the clusters run longest ago (never the one just run).
        let mut total: usize = clusters.values().map(|m| m.entries.len()).sum();
        while total > self.max_entries {
            let oldest = clusters
                .iter()
                .filter(|(name, _)| name.as_str() != cluster)
                .min_by_key(|(_, m)| m.last_run)
                .map(|(name, _)| name.clone());
            let Some(oldest) = oldest else { break };
            if let Some(forgotten) = clusters.remove(&oldest) {
                total -= forgotten.entries.len();
                tracing::info!(cluster = %oldest, entries = forgotten.entries.len(), "access entries forgotten: the instance's memory is full");
            }
        }
    }

    /// The principal ARNs of the cluster's entries, as its last full run here listed them
    /// (none when this instance has not run it).
    pub(super) fn remembered_principals(&self, cluster: &str) -> Vec<String> {
        let clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        clusters.get(cluster).map_or_else(Vec::new, |memory| {
            (memory.entries.values())
                .map(|(entry, _)| entry.principal_arn.clone())
                .collect()
        })
    }

    /// The clusters remembered, and their entries (for tests).
    #[cfg(test)]
    fn remembered(&self) -> Vec<(String, usize)> {
        let clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, usize)> = clusters
            .iter()
            .map(|(name, m)| (name.clone(), m.entries.len()))
            .collect();
        out.sort();
        out
    }

    /// Lists the cluster's entries and describes those due (see the module doc); `wanted`
    /// says whose policies are read.
    pub(super) async fn read(
        &self,
        store: &AccessEntryStore,
        cluster: &str,
        interval: Duration,
        wanted: &(dyn Fn(&CurrentEntry) -> bool + Sync),
    ) -> Result<AmortizedRead, AccessEntryError> {
        let memory = self.snapshot(cluster);
        let arns = store.list_principals().await?;
        let now = Instant::now();
        let listed: Vec<Listed<'_>> = arns
            .iter()
            .map(|arn| Listed {
                principal_arn: arn,
                age: memory
                    .entries
                    .get(&principal_key(arn))
                    .map(|(_, at)| now.saturating_duration_since(*at)),
            })
            .collect();
        let since_last_run = memory.last_run.map(|at| now.saturating_duration_since(at));
        let due = due_for_reading(&listed, since_last_run, interval);
        let to_describe: Vec<String> = arns
            .iter()
            .filter(|arn| due.contains(&principal_key(arn)))
            .cloned()
            .collect();
        let mut described = store.describe_each(&to_describe, wanted).await?.into_iter();
        let (mut current, mut from_memory, mut read_at) = (
            Vec::with_capacity(arns.len()),
            BTreeSet::new(),
            HashMap::new(),
        );
        for arn in &arns {
            let key = principal_key(arn);
            let entry = match memory.entries.get(&key) {
                Some((entry, at)) if !due.contains(&key) => {
                    from_memory.insert(key.clone());
                    read_at.insert(key, *at);
                    entry.clone()
                }
                _ => {
                    let Some(entry) = described.next() else { break };
                    read_at.insert(key, now);
                    entry
                }
            };
            current.push(entry);
        }
        let stats = EntryReads {
            listed: arns.len(),
            described: to_describe.len(),
            from_memory: from_memory.len(),
        };
        Ok(AmortizedRead {
            current,
            from_memory,
            read_at,
            stats,
        })
    }

    /// Describes `keys` (entries from memory a plan would change, or all of them) again in
    /// `read`, policies included; an entry gone since the listing is dropped.
    /// The plan `make` gives once it rests on fresh reads only: re-reads what
    /// [`to_read_again`] names until nothing is left; for a review, every remembered entry
    /// and every policy; then every policy when the plan needs them
    /// ([`crate::core::access_entries::AccessPlan::needs_every_policy`]). `facts` tells of a
    /// plan: its access-entry changes, whether it is refused, whether it takes anything from
    /// the other store, whether it needs every policy.
    pub(super) async fn settle<P>(
        store: &AccessEntryStore,
        read: &mut AmortizedRead,
        review: bool,
        make: impl Fn(&[CurrentEntry]) -> P,
        facts: impl for<'p> Fn(&'p P, &[CurrentEntry]) -> PlanFacts<'p>,
    ) -> Result<P, AccessEntryError> {
        let mut plan = make(&read.current);
        loop {
            let f = facts(&plan, &read.current);
            let again = to_read_again(
                f.changes,
                f.refused,
                f.takes_from_other_store,
                &read.from_memory,
            );
            if again.is_empty() {
                break;
            }
            EntryMemory::refresh(store, read, &again).await?;
            plan = make(&read.current);
        }
        if review {
            // Nothing from memory, every policy read: the review shows what EKS holds now.
            let remembered = read.from_memory.clone();
            EntryMemory::refresh(store, read, &remembered).await?;
            store.read_unread_policies(&mut read.current).await?;
            plan = make(&read.current);
        }
        if facts(&plan, &read.current).needs_every_policy {
            store.read_unread_policies(&mut read.current).await?;
            plan = make(&read.current);
        }
        Ok(plan)
    }

    pub(super) async fn refresh(
        store: &AccessEntryStore,
        read: &mut AmortizedRead,
        keys: &BTreeSet<String>,
    ) -> Result<(), AccessEntryError> {
        let now = Instant::now();
        let mut fresh = Vec::with_capacity(read.current.len());
        for entry in std::mem::take(&mut read.current) {
            let key = principal_key(&entry.principal_arn);
            if !keys.contains(&key) {
                fresh.push(entry);
                continue;
            }
            read.from_memory.remove(&key);
            read.stats.described += 1;
            read.stats.from_memory = read.stats.from_memory.saturating_sub(1);
            if let Some(entry) = store.entry_of(&entry.principal_arn).await? {
                read.read_at.insert(key, now);
                fresh.push(entry);
            }
        }
        read.current = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::entry;

    fn read_of(cluster: &str, n: usize) -> AmortizedRead {
        let current: Vec<CurrentEntry> = (0..n)
            .map(|i| {
                entry(
                    &format!("arn:aws:iam::111122223333:user/{cluster}-{i}"),
                    "u",
                    &[],
                )
            })
            .collect();
        let now = Instant::now();
        let read_at = current
            .iter()
            .map(|e| (principal_key(&e.principal_arn), now))
            .collect();
        AmortizedRead {
            current,
            from_memory: BTreeSet::new(),
            read_at,
            stats: EntryReads::default(),
        }
    }

    #[test]
    fn past_its_bound_the_memory_forgets_the_clusters_run_longest_ago() {
        let memory = EntryMemory::with_capacity(10);
        let none = BTreeSet::new();
        memory.remember("a", &read_of("a", 4), &none);
        memory.remember("b", &read_of("b", 4), &none);
        assert_eq!(memory.remembered(), [("a".into(), 4), ("b".into(), 4)]);
        memory.remember("c", &read_of("c", 4), &none);
        assert_eq!(
            memory.remembered(),
            [("b".into(), 4), ("c".into(), 4)],
            "a, run longest ago, is forgotten"
        );
        memory.remember("b", &read_of("b", 4), &none);
        memory.remember("d", &read_of("d", 9), &none);
        assert_eq!(
            memory.remembered(),
            [("d".into(), 9)],
            "the cluster just run stays, the others go"
        );
    }
}
