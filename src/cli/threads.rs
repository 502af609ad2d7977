//! The command line's parallelism for the core: two things at once on scoped threads.

use switchboard::syntax::Parallelism;

/// Runs the second closure on a scoped thread while the first runs on the caller's.
pub struct ScopedThreads;

impl Parallelism for ScopedThreads {
    fn both(&self, first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send)) {
        std::thread::scope(|scope| {
            let helper = scope.spawn(second);
            first();
            // A panic in the helper leaves its result unset; the parser then finishes alone.
            let _ = helper.join();
        });
    }
}
