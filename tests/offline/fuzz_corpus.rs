//! The aws-auth fuzz target's checks in every CI run, without libFuzzer: the committed seed
//! inputs, then proptest-mutated variants of them (bytes replaced, inserted, deleted, and
//! sections spliced), each through exactly the function the fuzz target runs
//! (`fuzz/check/aws_auth.rs`). Long runs with coverage guidance: `scripts/fuzz-smoke.sh`.

#[path = "../../fuzz/check/aws_auth.rs"]
mod check;

use std::path::PathBuf;

use proptest::prelude::*;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/aws_auth");
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    seeds.sort();
    assert!(
        seeds.len() >= 6,
        "the committed seeds are missing from {}",
        dir.display()
    );
    seeds
}

#[test]
fn every_committed_seed_passes_the_fuzz_checks() {
    for (name, bytes) in seeds() {
        let result = std::panic::catch_unwind(|| check::check(&bytes));
        assert!(result.is_ok(), "seed {name} fails the fuzz checks");
    }
}

/// One edit of a seed: (position, kind, byte).
fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), 0u8..4, any::<u8>()), 0..12)
}

const INTERESTING: &[u8] = b"-:#\n\r '\"{}[],|>&*!0123456789yno~";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_seeds_pass_the_fuzz_checks(seed in any::<prop::sample::Index>(), flags in any::<u8>(), edits in edits()) {
        let seeds = seeds();
        let mut bytes = seeds[seed.index(seeds.len())].1.clone();
        if let Some(first) = bytes.first_mut() {
            *first = flags & 0x7f;
        }
        for (at, kind, byte) in edits {
            let at = if bytes.is_empty() { 0 } else { at % bytes.len() };
            let byte = INTERESTING[byte as usize % INTERESTING.len()];
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() && at > 0 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, 0),
            }
        }
        check::check(&bytes);
    }
}
