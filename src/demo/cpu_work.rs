//! Burning a fixed amount of CPU time per request, so CPU faults show up as latency.

use std::hint::black_box;
use std::time::Duration;

/// Spins until this thread has used `amount` of CPU time. Under a CPU limit the same amount
/// takes longer in wall-clock time, which is the point.
pub fn burn_cpu(amount: Duration) {
    let Some(start) = thread_cpu_time() else {
        return;
    };
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while let Some(now) = thread_cpu_time() {
        if now.saturating_sub(start) >= amount {
            break;
        }
        for _ in 0..1000 {
            state = black_box(state.rotate_left(5) ^ state.wrapping_mul(0x2545_F491_4F6C_DD1D));
        }
    }
}

/// CPU time used by the calling thread.
fn thread_cpu_time() -> Option<Duration> {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(time.tv_sec).ok()?,
        u32::try_from(time.tv_nsec).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burns_at_least_the_requested_cpu_time() {
        let before = thread_cpu_time().unwrap();
        burn_cpu(Duration::from_millis(20));
        let used = thread_cpu_time().unwrap() - before;
        assert!(used >= Duration::from_millis(20), "{used:?}");
    }
}
