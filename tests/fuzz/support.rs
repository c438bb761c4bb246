//! Shared by every property test (`tests/fuzz/`, and the in-crate `fuzz_tests` /
//! `tests_fuzz_*` modules, which include this file with `#[path]`): how many cases a run
//! tries, and mutations that turn a valid input into a nearly valid one. Only `proptest` and
//! `std` here, so the file compiles in both places. See `docs/fuzzing.md`.

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

/// Cases per property when `GRPROXY_FUZZ_CASES` is not set: keeps the whole set of fuzz
/// properties to a few seconds in a debug build (docs/fuzzing.md has the long run).
pub const DEFAULT_CASES: u32 = 256;

/// Cases per property: `GRPROXY_FUZZ_CASES`, else [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("GRPROXY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// The configuration of a property: [`cases`] cases, no failure files (a failure prints
/// the minimal input and the seed; `PROPTEST_RNG_SEED` replays a run).
pub fn config() -> Config {
    config_div(1)
}

/// For a costly property: `cases() / div` cases, at least 4.
pub fn config_div(div: u32) -> Config {
    Config {
        cases: (cases() / div.max(1)).max(4),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Values that break length fields: a 4 GiB / 16 MiB / u64::MAX length, a length-encoded
/// integer marker with its widest width, zeros.
const BOUNDARY: &[&[u8]] = &[
    &[0xFF, 0xFF, 0xFF, 0xFF],
    &[0xFF, 0xFF, 0xFF, 0x00],
    &[0x00, 0x00, 0x00, 0x01],
    &[0x7F, 0xFF, 0xFF, 0xFF],
    &[0x00, 0x00, 0x00, 0x00],
    &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    &[0xFD, 0xFF, 0xFF, 0xFF],
    &[0xFC, 0xFF, 0xFF],
    &[0xFB],
    &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    &[0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00],
];

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    Set(Index, u8),
    /// Keep only a prefix.
    Truncate(Index),
    Insert(Index, Vec<u8>),
    /// Remove up to `n` bytes.
    Remove(Index, u8),
    Append(Vec<u8>),
    /// Overwrite with one of the [`BOUNDARY`] values.
    Boundary(Index, Index),
    /// Repeat a slice in place.
    Duplicate(Index, u8),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, m)| Mutation::Flip(i, m)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1u8..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, v)| Mutation::Boundary(i, v)),
        1 => (any::<Index>(), 1u8..32).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

/// One to three mutations.
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

/// `v` with `muts` applied in order.
pub fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = v.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len) };
        match m {
            Mutation::Flip(i, mask) if len > 0 => v[at(i)] ^= mask,
            Mutation::Set(i, b) if len > 0 => v[at(i)] = *b,
            Mutation::Truncate(i) => v.truncate(at(i)),
            Mutation::Insert(i, bytes) => {
                let p = at(i);
                v.splice(p..p, bytes.iter().copied());
            }
            Mutation::Remove(i, n) if len > 0 => {
                let p = at(i);
                let end = (p + usize::from(*n)).min(len);
                v.drain(p..end);
            }
            Mutation::Append(bytes) => v.extend_from_slice(bytes),
            Mutation::Boundary(i, which) if len > 0 => {
                let value = BOUNDARY[which.index(BOUNDARY.len())];
                let p = at(i);
                let n = value.len().min(len - p);
                v[p..p + n].copy_from_slice(&value[..n]);
            }
            Mutation::Duplicate(i, n) if len > 0 => {
                let p = at(i);
                let end = (p + usize::from(*n)).min(len);
                let copy = v[p..end].to_vec();
                v.splice(end..end, copy);
            }
            _ => {}
        }
    }
    v
}

/// A valid input from `base`, mutated.
pub fn mutated<S: Strategy<Value = Vec<u8>>>(base: S) -> impl Strategy<Value = Vec<u8>> {
    (base, mutations()).prop_map(|(b, m)| apply(b, &m))
}

/// Short arbitrary bytes, biased towards the bytes protocols give meaning to.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => any::<u8>(),
        1 => prop::sample::select(vec![0x00u8, 0x01, 0x03, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF]),
    ];
    prop::collection::vec(byte, 0..max)
}
