//! Handing memory freed after a configuration load back to the operating system.
//!
//! Loading 10,000 checks parses, validates and fingerprints a large TOML document; the
//! transient allocations are freed once the plan is built, but glibc's allocator keeps
//! the freed pages in its arenas, where they count in the daemon's RSS for its lifetime.
//! `malloc_trim` returns them. Elsewhere (musl, other systems) this does nothing.

/// Returns freed heap pages to the OS (after start-up and after each reload).
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers; it only walks glibc's own free lists,
        // under glibc's own locks, and is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
