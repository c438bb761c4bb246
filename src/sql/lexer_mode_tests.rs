//! Tests of the lexical modes ([`LexOptions`]): `NO_BACKSLASH_ESCAPES`,
//! `ANSI_QUOTES` and multi-byte client character sets.
//!
//! Every splitting case here was run on MariaDB 10.11 as one multi-statement
//! `COM_QUERY` (with the session's `sql_mode` and `SET NAMES` as given); the
//! expected statements are the result sets the server returned. (The server
//! also answers a trailing comment-only statement with an OK packet; the
//! splitter leaves such statements out.)

use super::lexer::{tokenize_with, LexCharset as C, LexOptions, TokenKind as T};
use super::{classify_bytes, classify_bytes_with, split_statements_bytes, split_statements_bytes_with};
use super::{Detail, StatementKind};

fn opts(sql_mode: &str, charset: C) -> LexOptions {
    LexOptions {
        charset,
        ..LexOptions::default()
    }
    .with_sql_mode(sql_mode)
}

/// (input, options, the statements the server ran)
type Case<'a> = (&'a [u8], LexOptions, &'a [&'a [u8]]);

fn split(sql: &[u8], o: LexOptions) -> Vec<&[u8]> {
    split_statements_bytes_with(sql, o)
        .into_iter()
        .map(|r| &sql[r])
        .collect()
}

#[test]
fn splitting_by_mode() {
    let def = LexOptions::default();
    let nbe = opts("NO_BACKSLASH_ESCAPES", C::Default);
    let ansi = opts("ANSI_QUOTES", C::Default);
    let ansi_nbe = opts("ANSI_QUOTES,NO_BACKSLASH_ESCAPES", C::Default);
    let gbk = opts("", C::Gbk);
    let big5 = opts("", C::Big5);
    let sjis = opts("", C::Sjis);
    let cp932 = opts("", C::Cp932);
    let cases: &[Case] = &[
        // Backslash escapes on: one statement (an unterminated string).
        (b"SELECT 'a\\'; SELECT 2; -- '", def, &[b"SELECT 'a\\'; SELECT 2; -- '"]),
        // NO_BACKSLASH_ESCAPES: the string is `a\`, then a second statement.
        (b"SELECT 'a\\'; SELECT 2; -- '", nbe, &[b"SELECT 'a\\'", b"SELECT 2"]),
        (
            b"SELECT 'a\\'; DELETE FROM t; --'",
            nbe,
            &[b"SELECT 'a\\'", b"DELETE FROM t", b"--'"],
        ),
        (
            b"SELECT \"a\\\"; SELECT 2; -- \"",
            nbe,
            &[b"SELECT \"a\\\"", b"SELECT 2"],
        ),
        (b"SELECT N'a\\'; SELECT 2; -- '", nbe, &[b"SELECT N'a\\'", b"SELECT 2"]),
        (b"SELECT @'a\\'; SELECT 2; -- '", nbe, &[b"SELECT @'a\\'", b"SELECT 2"]),
        (
            b"SELECT @'a\\'; SELECT 2; -- '",
            def,
            &[b"SELECT @'a\\'; SELECT 2; -- '"],
        ),
        (b"SELECT 'a\\'';'; SELECT 3", nbe, &[b"SELECT 'a\\'';'", b"SELECT 3"]),
        // Backticks never had backslash escapes.
        (
            b"SELECT 1 AS `a\\`; SELECT 2",
            def,
            &[b"SELECT 1 AS `a\\`", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS `a\\`; SELECT 2",
            nbe,
            &[b"SELECT 1 AS `a\\`", b"SELECT 2"],
        ),
        // ANSI_QUOTES: "..." is an identifier without backslash escapes, so it
        // does change splitting.
        (
            b"SELECT 1 AS \"a\\\"; SELECT 2; -- \"",
            def,
            &[b"SELECT 1 AS \"a\\\"; SELECT 2; -- \""],
        ),
        (
            b"SELECT 1 AS \"a\\\"; SELECT 2; -- \"",
            ansi,
            &[b"SELECT 1 AS \"a\\\"", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS \"a\\\"; SELECT 2; -- \"",
            ansi_nbe,
            &[b"SELECT 1 AS \"a\\\"", b"SELECT 2"],
        ),
        (
            b"SELECT @\"a\\\"; SELECT 2; -- \"",
            ansi,
            &[b"SELECT @\"a\\\"", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS \"a\"\";b\"; SELECT 2",
            ansi,
            &[b"SELECT 1 AS \"a\"\";b\"", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS \"a;b\"; SELECT 2",
            ansi,
            &[b"SELECT 1 AS \"a;b\"", b"SELECT 2"],
        ),
        // ANSI_QUOTES leaves '...' strings alone.
        (
            b"SELECT 'a\\'; SELECT 2; -- '",
            ansi,
            &[b"SELECT 'a\\'; SELECT 2; -- '"],
        ),
        (b"SELECT x'41'; SELECT 2", ansi, &[b"SELECT x'41'", b"SELECT 2"]),
        // gbk: 0xB5 0x5C is one character, so the quote after it closes the string.
        (
            b"SELECT '\xB5\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\xB5\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\xB5\x5C'; SELECT 2; -- '",
            def,
            &[b"SELECT '\xB5\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\x81\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\x81\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\xFE\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\xFE\x5C'", b"SELECT 2"],
        ),
        // 0x80 and 0xFF are not gbk lead bytes.
        (
            b"SELECT '\x80\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\x80\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\xFF\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\xFF\x5C'; SELECT 2; -- '"],
        ),
        // Lead + lead-range trail, then a real backslash escape.
        (
            b"SELECT '\xB5\xB5\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\xB5\xB5\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\xB5\xB5\xB5\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\xB5\xB5\xB5\x5C'", b"SELECT 2"],
        ),
        // A backslash escapes one byte, even a lead byte.
        (
            b"SELECT '\\\x81\\'; SELECT 2; -- '",
            gbk,
            &[b"SELECT '\\\x81\\'; SELECT 2; -- '"],
        ),
        // A quote is never a trail byte.
        (b"SELECT '\x81'; SELECT 2", gbk, &[b"SELECT '\x81'", b"SELECT 2"]),
        (b"SELECT \"\x81\"; SELECT 2", gbk, &[b"SELECT \"\x81\"", b"SELECT 2"]),
        // Under NO_BACKSLASH_ESCAPES the pair is still one character.
        (
            b"SELECT '\x81\x5C'; SELECT 2; -- '",
            opts("NO_BACKSLASH_ESCAPES", C::Gbk),
            &[b"SELECT '\x81\x5C'", b"SELECT 2"],
        ),
        // Variable names and identifiers consume pairs too (0x60 is a trail).
        (
            b"SELECT @'\x81\x5C'; SELECT 2; -- '",
            gbk,
            &[b"SELECT @'\x81\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS `\x81\x60x`; SELECT 2; -- `",
            gbk,
            &[b"SELECT 1 AS `\x81\x60x`", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS `\x81\x60x`; SELECT 2; -- `",
            def,
            &[b"SELECT 1 AS `\x81\x60x`; SELECT 2; -- `"],
        ),
        (
            b"SELECT 1 AS a\xB5\x60; SELECT 2",
            gbk,
            &[b"SELECT 1 AS a\xB5\x60", b"SELECT 2"],
        ),
        (
            b"SELECT 1 AS a\xB5\x60; SELECT 2",
            def,
            &[b"SELECT 1 AS a\xB5\x60; SELECT 2"],
        ),
        // big5 leads are 0xA1-0xF9.
        (
            b"SELECT '\xA1\x5C'; SELECT 2; -- '",
            big5,
            &[b"SELECT '\xA1\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\xF9\x5C'; SELECT 2; -- '",
            big5,
            &[b"SELECT '\xF9\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\x81\x5C'; SELECT 2; -- '",
            big5,
            &[b"SELECT '\x81\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\xFA\x5C'; SELECT 2; -- '",
            big5,
            &[b"SELECT '\xFA\x5C'; SELECT 2; -- '"],
        ),
        // sjis / cp932 leads are 0x81-0x9F and 0xE0-0xFC (0xA1-0xDF are
        // single-byte katakana).
        (
            b"SELECT '\x95\x5C'; SELECT 2; -- '",
            sjis,
            &[b"SELECT '\x95\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\xE0\x5C'; SELECT 2; -- '",
            sjis,
            &[b"SELECT '\xE0\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\xA0\x5C'; SELECT 2; -- '",
            sjis,
            &[b"SELECT '\xA0\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\xB5\x5C'; SELECT 2; -- '",
            sjis,
            &[b"SELECT '\xB5\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\xFD\x5C'; SELECT 2; -- '",
            sjis,
            &[b"SELECT '\xFD\x5C'; SELECT 2; -- '"],
        ),
        (
            b"SELECT '\xFC\x5C'; SELECT 2; -- '",
            cp932,
            &[b"SELECT '\xFC\x5C'", b"SELECT 2"],
        ),
        (
            b"SELECT '\x9F\x5C'; SELECT 2; -- '",
            cp932,
            &[b"SELECT '\x9F\x5C'", b"SELECT 2"],
        ),
    ];
    for (sql, o, want) in cases {
        let got = split(sql, *o);
        assert_eq!(&got, want, "split({:?}, {o:?})", String::from_utf8_lossy(sql));
    }
    // The default functions keep the default mode.
    let sql = b"SELECT '\xB5\x5C'; DELETE FROM t; -- '";
    assert_eq!(split_statements_bytes(sql).len(), 1);
    assert_eq!(split_statements_bytes_with(sql, LexOptions::default()).len(), 1);
}

#[test]
fn classification_by_mode() {
    // The smuggled DELETE is a second statement only under the session's mode.
    let sql = b"SELECT '\xB5\x5C'; DELETE FROM t; -- '";
    let c = classify_bytes(sql);
    assert_eq!(
        (c.kind, c.multi_statement, c.incomplete),
        (StatementKind::Read, false, false)
    );
    let gbk = LexOptions {
        charset: C::Gbk,
        ..LexOptions::default()
    };
    let c = classify_bytes_with(sql, gbk);
    assert_eq!(
        (c.kind, c.multi_statement, c.incomplete),
        (StatementKind::Read, true, false)
    );
    let parts = split_statements_bytes_with(sql, gbk);
    assert_eq!(classify_bytes_with(&sql[parts[1].clone()], gbk).detail, Detail::Delete);

    let nbe = LexOptions::default().with_sql_mode("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES");
    let c = classify_bytes_with(b"SELECT 'a\\'; DELETE FROM t; --'", nbe);
    // (`--'` is not a comment: the third statement is an unterminated string.)
    assert!(c.multi_statement && c.incomplete);
    assert_eq!(split(b"SELECT 'a\\'; DELETE FROM t; --'", nbe)[1], b"DELETE FROM t");
    // ANSI_QUOTES: `USE "db"` names a schema.
    let ansi = LexOptions::default().with_sql_mode("ANSI");
    assert_eq!(
        classify_bytes_with(b"USE \"my\"\"db\"", ansi).detail,
        Detail::Use {
            schema: "my\"db".into()
        }
    );
    assert_eq!(classify_bytes(b"USE \"my\"\"db\"").detail, Detail::Unknown);
}

#[test]
fn token_kinds_by_mode() {
    let kinds = |sql: &[u8], o| -> Vec<(T, Vec<u8>)> {
        tokenize_with(sql, o)
            .tokens
            .iter()
            .map(|t| (t.kind, sql[t.range()].to_vec()))
            .collect()
    };
    let ansi = opts("ANSI_QUOTES", C::Default);
    assert_eq!(
        kinds(b"\"a\" 'b' `c`", ansi),
        [
            (T::QuotedIdent, b"\"a\"".to_vec()),
            (T::String, b"'b'".to_vec()),
            (T::QuotedIdent, b"`c`".to_vec())
        ]
    );
    assert_eq!(kinds(b"\"a\"", LexOptions::default())[0].0, T::String);
    // gbk: an identifier runs through a pair whose trail is `\`, `` ` `` or `@`.
    let gbk = opts("", C::Gbk);
    assert_eq!(
        kinds(b"a\xB5\x5Cb c", gbk),
        [(T::Word, b"a\xB5\x5Cb".to_vec()), (T::Word, b"c".to_vec())]
    );
    assert_eq!(kinds(b"a\xB5@b", gbk), [(T::Word, b"a\xB5@b".to_vec())]);
    assert_eq!(
        kinds(b"a\xB5@b", LexOptions::default()),
        [(T::Word, b"a\xB5".to_vec()), (T::Variable, b"@b".to_vec())]
    );
    // A lead byte at the very end is a single byte.
    assert_eq!(kinds(b"'x\xB5", gbk), [(T::String, b"'x\xB5".to_vec())]);
    assert!(tokenize_with(b"'x\xB5", gbk).incomplete);
}

#[test]
fn charset_tables() {
    assert_eq!(C::Gbk.char_len(b"\x81\x40"), 2);
    assert_eq!(C::Gbk.char_len(b"\x81\x7F"), 1);
    assert_eq!(C::Gbk.char_len(b"\x81\x3F"), 1);
    assert_eq!(C::Gbk.char_len(b"\x81"), 1);
    assert_eq!(C::Big5.char_len(b"\xA4\x40"), 2);
    assert_eq!(C::Big5.char_len(b"\xA4\x80"), 1);
    assert_eq!(C::Sjis.char_len(b"\x81\xFC"), 2);
    assert_eq!(C::Sjis.char_len(b"\x81\xFD"), 1);
    assert_eq!(C::Default.char_len(b"\xB5\x5C"), 1);
    assert_eq!(C::Gb18030.char_len(b"\x81\x30\x81\x30"), 4);
    assert_eq!(C::Gb18030.char_len(b"\x81\x30\x81"), 1);
    assert_eq!(C::Gb18030.char_len(b"\x81\x5C"), 2);
    let gb18030 = opts("", C::Gb18030);
    let sql = b"SELECT '\x81\x30\x81\x30\\'; SELECT 2";
    assert_eq!(split(sql, gb18030).len(), 1);
    assert_eq!(split(b"SELECT '\x81\x5C'; SELECT 2", gb18030).len(), 2);

    for (name, want) in [
        ("gbk", C::Gbk),
        ("BIG5", C::Big5),
        ("sjis", C::Sjis),
        ("cp932", C::Cp932),
        ("gb18030", C::Gb18030),
        ("utf8mb4", C::Default),
        ("latin1", C::Default),
        ("ujis", C::Default),
    ] {
        assert_eq!(C::from_name(name), want, "{name}");
    }
    // Collation ids as listed by MariaDB 10.11's information_schema.COLLATIONS.
    for (id, want) in [
        (1, C::Big5),
        (84, C::Big5),
        (1025, C::Big5),
        (1108, C::Big5),
        (13, C::Sjis),
        (88, C::Sjis),
        (1037, C::Sjis),
        (1112, C::Sjis),
        (28, C::Gbk),
        (87, C::Gbk),
        (1052, C::Gbk),
        (1111, C::Gbk),
        (95, C::Cp932),
        (96, C::Cp932),
        (1119, C::Cp932),
        (1120, C::Cp932),
        (33, C::Default),
        (45, C::Default),
        (8, C::Default),
        (224, C::Default),
    ] {
        assert_eq!(C::from_collation_id(id), want, "{id}");
    }
}

#[test]
fn sql_mode_flags() {
    let o = LexOptions::default();
    for (mode, nbe, ansi) in [
        ("", false, false),
        ("NO_BACKSLASH_ESCAPES", true, false),
        ("strict_trans_tables, no_backslash_escapes", true, false),
        ("ANSI_QUOTES", false, true),
        ("ANSI", false, true),
        (
            "REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI",
            false,
            true,
        ),
        ("ORACLE", false, true),
        ("POSTGRESQL,NO_BACKSLASH_ESCAPES", true, true),
        ("MSSQL", false, true),
        ("DB2", false, true),
        ("MAXDB", false, true),
        ("TRADITIONAL", false, false),
        ("NO_BACKSLASH_ESCAPESX", false, false),
    ] {
        let got = o.with_sql_mode(mode);
        assert_eq!((got.no_backslash_escapes, got.ansi_quotes), (nbe, ansi), "{mode}");
    }
    // The charset is kept.
    let gbk = LexOptions {
        charset: C::Gbk,
        ..LexOptions::default()
    };
    assert_eq!(gbk.with_sql_mode("ANSI").charset, C::Gbk);
}

#[test]
fn fuzz_every_mode_never_panics() {
    use super::lexer_tests::{Rng, PIECES};
    use super::{qualified_schema_refs_with, read_writes_with, session_variables_set_with};
    const MB: &[&[u8]] = &[
        b"\xB5\x5C",
        b"\x81",
        b"\x81\x30",
        b"\x81\x30\x81\x30",
        b"\xA1\x60",
        b"\xFE",
    ];
    let charsets = [C::Default, C::Gbk, C::Big5, C::Sjis, C::Cp932, C::Gb18030];
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    for round in 0..4000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(24) {
            match rng.below(6) {
                0 => input.push(rng.next() as u8),
                1 => input.extend_from_slice(MB[rng.below(MB.len())]),
                _ => input.extend_from_slice(PIECES[rng.below(PIECES.len())]),
            }
        }
        let o = LexOptions {
            no_backslash_escapes: rng.below(2) == 0,
            ansi_quotes: rng.below(2) == 0,
            charset: charsets[rng.below(charsets.len())],
        };
        let lexed = tokenize_with(&input, o);
        let mut prev_end = 0;
        for t in &lexed.tokens {
            assert!(
                prev_end <= t.start && t.start < t.end && t.end <= input.len(),
                "round {round}"
            );
            prev_end = t.end;
        }
        let _ = classify_bytes_with(&input, o);
        for r in split_statements_bytes_with(&input, o) {
            assert!(r.start < r.end && r.end <= input.len());
            let part = &input[r];
            let _ = classify_bytes_with(part, o);
            let _ = read_writes_with(part, o);
            let _ = session_variables_set_with(part, o);
            let _ = qualified_schema_refs_with(part, o);
            let _ = super::commits_implicitly(&classify_bytes_with(part, o));
        }
    }
}

#[test]
fn lexing_depends_on_settings_only_with_quotes_backslashes_or_non_ascii() {
    let cases: &[(&[u8], bool)] = &[
        (b"SHOW WARNINGS", false),
        (b"SELECT FOUND_ROWS(), ROW_COUNT(), @@warning_count", false),
        (b"SELECT 'a'", true),
        (b"SELECT \"a\"", true),
        (b"SELECT `a`", true),
        (b"SELECT 1 \\G", true),
        (b"SELECT 0x5c", false),
        (b"SELECT '\xa8\\'", true),
        (b"SELECT \xe4\xb8\xad", true),
    ];
    for (text, want) in cases {
        assert_eq!(
            crate::sql::lexing_depends_on_settings(text),
            *want,
            "{}",
            String::from_utf8_lossy(text)
        );
    }
}
