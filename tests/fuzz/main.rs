//! Property tests ("fuzzing" on the stable toolchain, with `proptest`) of everything that
//! reads bytes a client or mysqld controls, through the public API: packet framing, the
//! connection-phase packets, response tracking, COM_STMT_EXECUTE packets, and the SQL lexer,
//! splitter, classifier and the group route decision. Each target gets arbitrary input and
//! mutations of valid input (flipped, truncated, extended, length fields set to 4 GiB or
//! u64::MAX); where the crate (or the test) has an encoder, encode -> decode must give the
//! value back.
//!
//! The binlog decoders and peer frames are fuzzed in-crate (`src/replication/binlog/
//! fuzz_tests.rs`, `src/consensus/tests_fuzz_frames.rs`). Case count: `GRPROXY_FUZZ_CASES`
//! (see `support.rs` and `docs/fuzzing.md`).
//!
//! This binary's allocator refuses any single allocation above [`ALLOC_CAP`], so a length
//! prefix that makes a decoder allocate what it claims aborts the run (with "memory
//! allocation of N bytes failed") instead of passing unnoticed on an overcommitting kernel.

use std::alloc::{GlobalAlloc, Layout, System};

mod handshake;
mod protocol;
mod sql;
mod support;

/// Largest single allocation this test binary allows (the largest legitimate one here is a
/// 32 MiB split packet).
const ALLOC_CAP: usize = 256 << 20;

struct Capped;

// SAFETY: defers to the system allocator, only refusing (null, as allowed) oversized requests.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Capped = Capped;

#[test]
fn the_allocation_cap_is_in_force() {
    let r = std::panic::catch_unwind(|| {
        let mut v: Vec<u8> = Vec::new();
        v.try_reserve_exact(ALLOC_CAP + 1).is_err()
    });
    assert_eq!(r.ok(), Some(true));
}
