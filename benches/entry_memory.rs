//! How much heap the amortized reads' memory (issue 21, `src/reconcile/entry_memory.rs`) takes
//! per remembered access entry: dhat's counting allocator, and a map of the
//! same shape as one cluster's memory (principal key → the entry and when it was described)
//! filled with realistic managed entries (a user ARN with a path, a username, two Kubernetes
//! groups, our two tags, one access policy scoped to two namespaces).
//!
//! `cargo bench --bench entry_memory` (or `cargo test --bench entry_memory` for a debug build:
//! the sizes are the same). `BENCH_ENTRIES` sets the entries per cluster (default 3,000).

use std::collections::HashMap;
use std::time::Instant;

use eks_iam_sync::core::access_entries::{
    CurrentEntry, MANAGED_TAG, MANAGED_VALUE, PRINCIPAL_ID_TAG, Policy, STANDARD, Scope,
    policy_arn, principal_key,
};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn entry(i: usize) -> CurrentEntry {
    let arn = format!("arn:aws:iam::111122223333:user/engineering/user-{i:05}");
    CurrentEntry {
        principal_arn: arn,
        entry_type: STANDARD.to_owned(),
        username: Some(format!("user-{i:05}")),
        groups: vec!["developers".to_owned(), "team-payments".to_owned()],
        tags: [
            (MANAGED_TAG.to_owned(), MANAGED_VALUE.to_owned()),
            (PRINCIPAL_ID_TAG.to_owned(), format!("AIDA{i:017}")),
        ]
        .into(),
        policies: vec![Policy {
            policy_arn: policy_arn("aws", "AmazonEKSEditPolicy"),
            scope: Scope::Namespaces(vec!["payments".to_owned(), "payments-*".to_owned()]),
        }],
        policies_unread: false,
        created_at: Some(1_764_000_000),
    }
}

fn main() {
    let entries: usize = std::env::var("BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000);
    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().curr_bytes;
    let now = Instant::now();
    let memory: HashMap<String, (CurrentEntry, Instant)> = (0..entries)
        .map(|i| {
            let entry = entry(i);
            (principal_key(&entry.principal_arn), (entry, now))
        })
        .collect();
    let bytes = dhat::HeapStats::get().curr_bytes - before;
    println!(
        "entry memory: {entries} entries of one cluster take {bytes} bytes of heap, {} bytes per entry",
        bytes / entries.max(1)
    );
    drop(memory);
}
