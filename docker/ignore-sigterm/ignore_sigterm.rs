//! A program that ignores SIGTERM and sleeps until it is killed: the worst case for a
//! graceful stop (the engine waits out the whole grace period, then SIGKILLs it). Built
//! statically, with no dependency, by docker/build-ignore-sigterm-image.sh, for the tests of
//! the `stop` fault on containers.

use std::time::Duration;

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
}

const SIGTERM: i32 = 15;
const SIG_IGN: usize = 1;

fn main() {
    // SAFETY: setting a signal's disposition to "ignore" has no other effect.
    unsafe {
        signal(SIGTERM, SIG_IGN);
    }
    println!("ignoring SIGTERM");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
