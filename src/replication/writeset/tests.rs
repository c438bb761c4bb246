use super::*;

/// Known values. If one of these changes, the item encoding changed: that is a
/// wire-format break (members of different versions would stop agreeing).
#[test]
fn items_are_pinned() {
    let cases: &[(&str, u128, u128)] = &[
        (
            "pk",
            key_item("shop", "orders", "PRIMARY", &[b"42"]),
            0xcda546f7df627e55a48a6b3205640d0f,
        ),
        (
            "unique key with an empty part",
            key_item("shop", "orders", "uk_email", &[b"a@b.c", b""]),
            0xc052c13bc64642efb489d40b0ea34a19,
        ),
        (
            "all empty",
            key_item("", "", "", &[]),
            0x8fff3751eef4d979269122b0aa878776,
        ),
        (
            "table",
            table_item("shop", "orders"),
            0x3f1c1ed65f189c99b1d854bcf58073c5,
        ),
        ("schema", schema_item("shop"), 0xc301b901271835513679ee0d103faf62),
        // The hash itself: reference XXH3-128 of the empty input.
        (
            "xxh3_128 of empty input",
            xxh3_128(b""),
            0x99aa06d3014798d86001c324468d497f,
        ),
    ];
    for &(name, got, want) in cases {
        assert_eq!(got, want, "{name}: got {got:#034x}");
    }
}

/// The documented byte layout, spelled out independently of the implementation.
#[test]
fn encoding_matches_documented_layout() {
    let mut buf = vec![3u8];
    for f in [&b"db"[..], b"t", b"PRIMARY"] {
        buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
        buf.extend_from_slice(f);
    }
    buf.extend_from_slice(&2u64.to_le_bytes());
    for p in [&b"1"[..], b"xy"] {
        buf.extend_from_slice(&(p.len() as u64).to_le_bytes());
        buf.extend_from_slice(p);
    }
    assert_eq!(key_item("db", "t", "PRIMARY", &[b"1", b"xy"]), xxh3_128(&buf));

    let mut buf = vec![2u8];
    for f in [&b"db"[..], b"t"] {
        buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
        buf.extend_from_slice(f);
    }
    assert_eq!(table_item("db", "t"), xxh3_128(&buf));

    let mut buf = vec![1u8];
    buf.extend_from_slice(&2u64.to_le_bytes());
    buf.extend_from_slice(b"db");
    assert_eq!(schema_item("db"), xxh3_128(&buf));
}

/// Pairs of inputs that share bytes but must name different items.
#[test]
fn items_are_injective_on_tricky_inputs() {
    let cases: &[(&str, u128, u128)] = &[
        (
            "key part split ab|c vs a|bc",
            key_item("s", "t", "i", &[b"ab", b"c"]),
            key_item("s", "t", "i", &[b"a", b"bc"]),
        ),
        (
            "key parts vs concatenation",
            key_item("s", "t", "i", &[b"a", b"b"]),
            key_item("s", "t", "i", &[b"ab"]),
        ),
        (
            "no part vs one empty part",
            key_item("s", "t", "i", &[]),
            key_item("s", "t", "i", &[b""]),
        ),
        (
            "one empty part vs two",
            key_item("s", "t", "i", &[b""]),
            key_item("s", "t", "i", &[b"", b""]),
        ),
        (
            "schema/table boundary (key)",
            key_item("ab", "c", "i", &[b"1"]),
            key_item("a", "bc", "i", &[b"1"]),
        ),
        (
            "table/index boundary",
            key_item("s", "ab", "c", &[b"1"]),
            key_item("s", "a", "bc", &[b"1"]),
        ),
        (
            "index/part boundary",
            key_item("s", "t", "ab", &[b"c"]),
            key_item("s", "t", "a", &[b"bc"]),
        ),
        (
            "schema/table boundary (table)",
            table_item("ab", "c"),
            table_item("a", "bc"),
        ),
        ("dotted names", table_item("a.b", "c"), table_item("a", "b.c")),
        (
            "same key value, different index",
            key_item("s", "t", "PRIMARY", &[b"1"]),
            key_item("s", "t", "uk", &[b"1"]),
        ),
        (
            "same key value, different table",
            key_item("s", "t1", "PRIMARY", &[b"1"]),
            key_item("s", "t2", "PRIMARY", &[b"1"]),
        ),
        (
            "case-sensitive identifiers",
            table_item("Shop", "t"),
            table_item("shop", "t"),
        ),
        ("table vs schema item", table_item("s", ""), schema_item("s")),
        ("key vs table item", key_item("s", "t", "", &[]), table_item("s", "t")),
        (
            "length prefix vs content",
            key_item("s", "t", "i", &[&[1, 0, 0, 0, 0, 0, 0, 0, b'x']]),
            key_item("s", "t", "i", &[b"x"]),
        ),
    ];
    for &(name, a, b) in cases {
        assert_ne!(a, b, "{name}");
    }
}

#[test]
fn items_are_deterministic() {
    assert_eq!(
        key_item("s", "t", "i", &[b"1", b"2"]),
        key_item(&String::from("s"), "t", "i", &[String::from("1").as_bytes(), b"2"])
    );
    assert_eq!(table_item("s", "t"), table_item("s", "t"));
    assert_eq!(schema_item("s"), schema_item("s"));
}

#[test]
fn builder_sorts_and_dedups() {
    let cases: &[(&str, &[u128], &[u128])] = &[
        ("empty", &[], &[]),
        ("single", &[7], &[7]),
        ("sorted", &[1, 2, 3], &[1, 2, 3]),
        ("reversed with dups", &[3, 1, 3, 2, 1], &[1, 2, 3]),
        ("extremes", &[u128::MAX, 0, u128::MAX], &[0, u128::MAX]),
    ];
    for &(name, input, want) in cases {
        let mut b = WriteSetBuilder::new();
        for &i in input {
            b.add(i);
        }
        assert_eq!(b.len(), input.len(), "{name}");
        assert_eq!(b.is_empty(), input.is_empty(), "{name}");
        assert_eq!(b.finish(), want, "{name}");
    }

    let mut b = WriteSetBuilder::new();
    b.add_key("s", "t", "PRIMARY", &[b"1"]);
    b.extend([table_item("s", "t"), key_item("s", "t", "PRIMARY", &[b"1"])]);
    let mut want = vec![key_item("s", "t", "PRIMARY", &[b"1"]), table_item("s", "t")];
    want.sort_unstable();
    assert_eq!(b.finish(), want);
}
