//! Cache prefetch hints. A command's first reads are of records of a random
//! device and attempt, each a memory access; asked for together as the command
//! arrives, they overlap instead of following one another.

/// Asks the cache for the line holding `x` (nothing where the target has no hint).
#[inline(always)]
#[allow(unsafe_code)]
pub(super) fn prefetch<T>(x: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = x {
        // SAFETY: SSE is baseline on x86_64, and a prefetch only hints the cache:
        // it reads and writes no memory, so any address is sound (this one is a
        // live reference besides).
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
