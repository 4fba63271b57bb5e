//! How soon a failed work-queue record is tried again: its new visibility timeout, from how
//! many times SQS has handed it out (`ApproximateReceiveCount`).
//!
//! A FIFO group (one cluster) delivers nothing else while one of its records is invisible, so
//! a failed record left to the queue's visibility timeout would freeze that cluster's
//! revocations for as long. Before naming a failed record in `batchItemFailures`, the worker
//! shortens its visibility to [`retry_delay`]: 15 s after the first failure, then 30 s, then
//! 60 s for every later one, plus up to [`RETRY_JITTER`] so clusters that failed together
//! (an IAM or EKS outage) do not come back in the same second. No failed record waits longer
//! than [`RETRY_BOUND`].
//!
//! Pure: the jitter is passed in; `handler::batch` draws it and makes the SQS call.

use std::time::Duration;

/// The delay after a record's first failure; it doubles with each later one, up to
/// [`RETRY_CAP`].
pub const RETRY_BASE: Duration = Duration::from_secs(15);
/// The longest delay before jitter.
pub const RETRY_CAP: Duration = Duration::from_secs(60);
/// The most jitter added to a delay.
pub const RETRY_JITTER: Duration = Duration::from_secs(5);
/// The longest a failed record stays invisible: [`RETRY_CAP`] + [`RETRY_JITTER`].
pub const RETRY_BOUND: Duration = RETRY_CAP.saturating_add(RETRY_JITTER);

/// The visibility timeout of a record that failed on its `receive_count`th delivery (the
/// first delivery is 1; 0 counts as 1), with `jitter` (at most [`RETRY_JITTER`]) added.
pub fn retry_delay(receive_count: u64, jitter: Duration) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(8) as u32;
    let delay = RETRY_BASE.saturating_mul(1 << doublings).min(RETRY_CAP);
    delay + jitter.min(RETRY_JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn delays_double_from_15_seconds_up_to_a_minute() {
        let delays: Vec<Duration> = (1..=6).map(|n| retry_delay(n, Duration::ZERO)).collect();
        assert_eq!(
            delays,
            [secs(15), secs(30), secs(60), secs(60), secs(60), secs(60)]
        );
        assert_eq!(retry_delay(0, Duration::ZERO), secs(15), "0 counts as 1");
    }

    #[test]
    fn no_delay_exceeds_the_bound_whatever_the_count_or_the_jitter() {
        for count in [1, 2, 3, 10, 64, 1_000, u64::MAX] {
            for jitter in [Duration::ZERO, secs(2), RETRY_JITTER, secs(3_600)] {
                let delay = retry_delay(count, jitter);
                assert!(delay <= RETRY_BOUND, "{count}, {jitter:?}: {delay:?}");
                assert!(delay >= RETRY_BASE, "{count}, {jitter:?}: {delay:?}");
            }
        }
        assert_eq!(retry_delay(3, secs(2)), secs(62));
        assert_eq!(RETRY_BOUND, secs(65));
    }
}
