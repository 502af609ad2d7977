//! The server's parallelism for the core: the parser splits a large document in two and parses
//! the halves at once, on the analysis thread and one scoped helper.

use switchboard_core::syntax::Parallelism;

/// Two halves at once: the caller's thread and a scoped helper thread.
pub struct HelperThread;

impl Parallelism for HelperThread {
    fn both(&self, first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send)) {
        std::thread::scope(|scope| {
            let helper = scope.spawn(second);
            first();
            // A helper that panicked leaves its half unparsed; the parser then finishes alone.
            let _ = helper.join();
        });
    }
}
