//! Ctrl-C during training: the first one asks the loop to stop after the
//! current batch (and write a checkpoint); a second one ends the process at once.

use std::sync::atomic::AtomicBool;

/// Set by the SIGINT handler.
pub static STOP: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
}

#[cfg(unix)]
const SIGINT: i32 = 2;

#[cfg(unix)]
extern "C" fn on_interrupt(_: i32) {
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; back to the default action, so that
    // a second Ctrl-C ends the process.
    unsafe {
        signal(SIGINT, 0);
    }
}

/// Installs the handler (on Unix; elsewhere Ctrl-C keeps its default action).
pub fn install() -> &'static AtomicBool {
    #[cfg(unix)]
    // SAFETY: installing a handler that only stores to an atomic and resets
    // the signal's action, both async-signal-safe.
    unsafe {
        signal(SIGINT, on_interrupt as extern "C" fn(i32) as usize);
    }
    &STOP
}
