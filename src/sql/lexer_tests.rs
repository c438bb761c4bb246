//! Tests of the lexer, plus a deterministic fuzz loop over the whole module.

use super::lexer::{tokenize, unquote_ident, TokenKind as T};
use super::{classify, classify_bytes, parse_dml, split_statements, split_statements_bytes};

/// (kind, text) of every token.
fn toks(sql: &str) -> Vec<(T, &str)> {
    tokenize(sql.as_bytes())
        .tokens
        .iter()
        .map(|t| (t.kind, &sql[t.range()]))
        .collect()
}

fn texts(sql: &str) -> Vec<&str> {
    toks(sql).into_iter().map(|(_, s)| s).collect()
}

#[test]
fn token_kinds() {
    let sql = "SELECT a,`b``c`, 'x\\'y' FROM t WHERE c=? AND d<=>1.5e3 -- hi\n# x\n/* y */";
    assert_eq!(
        toks(sql),
        [
            (T::Word, "SELECT"),
            (T::Word, "a"),
            (T::Punct, ","),
            (T::QuotedIdent, "`b``c`"),
            (T::Punct, ","),
            (T::String, "'x\\'y'"),
            (T::Word, "FROM"),
            (T::Word, "t"),
            (T::Word, "WHERE"),
            (T::Word, "c"),
            (T::Punct, "="),
            (T::Placeholder, "?"),
            (T::Word, "AND"),
            (T::Word, "d"),
            (T::Punct, "<=>"),
            (T::Number, "1.5e3"),
        ]
    );
}

#[test]
fn literals_and_variables() {
    let cases: &[(&str, &[(T, &str)])] = &[
        ("x'41' X'4A'", &[(T::String, "x'41'"), (T::String, "X'4A'")]),
        ("b'101' N'abc'", &[(T::String, "b'101'"), (T::String, "N'abc'")]),
        ("_utf8mb4'x'", &[(T::Word, "_utf8mb4"), (T::String, "'x'")]),
        (
            "0x1F 0b101 0xZZ",
            &[(T::Number, "0x1F"), (T::Number, "0b101"), (T::Word, "0xZZ")],
        ),
        (
            "1abc 123_t 1e-5 2E+3 7.",
            &[
                (T::Word, "1abc"),
                (T::Word, "123_t"),
                (T::Number, "1e-5"),
                (T::Number, "2E+3"),
                (T::Number, "7."),
            ],
        ),
        ("t.c", &[(T::Word, "t"), (T::Punct, "."), (T::Word, "c")]),
        (
            "'a''b' \"c\"\"d\" 'e\\\\'",
            &[(T::String, "'a''b'"), (T::String, "\"c\"\"d\""), (T::String, "'e\\\\'")],
        ),
        (
            "@a @'a b' @`x` @@session.autocommit @@GLOBAL.x",
            &[
                (T::Variable, "@a"),
                (T::Variable, "@'a b'"),
                (T::Variable, "@`x`"),
                (T::Variable, "@@session.autocommit"),
                (T::Variable, "@@GLOBAL.x"),
            ],
        ),
        (
            "a:=1 b->>'$.x' c->'$' d!=e<>f||g&&h<<1>>2",
            &[
                (T::Word, "a"),
                (T::Punct, ":="),
                (T::Number, "1"),
                (T::Word, "b"),
                (T::Punct, "->>"),
                (T::String, "'$.x'"),
                (T::Word, "c"),
                (T::Punct, "->"),
                (T::String, "'$'"),
                (T::Word, "d"),
                (T::Punct, "!="),
                (T::Word, "e"),
                (T::Punct, "<>"),
                (T::Word, "f"),
                (T::Punct, "||"),
                (T::Word, "g"),
                (T::Punct, "&&"),
                (T::Word, "h"),
                (T::Punct, "<<"),
                (T::Number, "1"),
                (T::Punct, ">>"),
                (T::Number, "2"),
            ],
        ),
        ("héllo wörld", &[(T::Word, "héllo"), (T::Word, "wörld")]),
    ];
    for (sql, want) in cases {
        assert_eq!(&toks(sql), want, "tokens of {sql:?}");
    }
}

#[test]
fn comments() {
    let cases: &[(&str, &[&str])] = &[
        ("SELECT 1--1", &["SELECT", "1", "-", "-", "1"]),
        ("SELECT 1-- 1", &["SELECT", "1"]),
        ("SELECT 1--\t1\n2", &["SELECT", "1", "2"]),
        ("SELECT 1--", &["SELECT", "1"]),
        ("SELECT 1 # c ; d\n2", &["SELECT", "1", "2"]),
        ("SELECT /* a */ 1 /**/ 2 /*/ 3 */ 4", &["SELECT", "1", "2", "4"]),
        ("SELECT /*+ BKA(t) */ 1", &["SELECT", "1"]),
        ("/*!50100 SELECT */ 1", &["SELECT", "1"]),
        ("/*!501001 SELECT */ 1", &["SELECT", "1"]),
        ("/*!1 SELECT */", &["1", "SELECT"]),
        ("/*M!100100 x */ y", &["x", "y"]),
        ("/*M! x */", &["x"]),
        ("/*!*/", &[]),
        ("a/*!b*/c", &["a", "b", "c"]),
        ("/*! 'x*/' */ y", &["'x*/'", "y"]),
        ("2 */ 3", &["2", "*", "/", "3"]),
        ("SELECT '--' \"#\" `/*`", &["SELECT", "'--'", "\"#\"", "`/*`"]),
    ];
    for (sql, want) in cases {
        assert_eq!(&texts(sql), want, "tokens of {sql:?}");
    }
}

#[test]
fn truncated_input() {
    for sql in [
        "SELECT 'abc",
        "SELECT \"abc",
        "SELECT `abc",
        "/* never closed",
        "SELECT 'a\\",
        "/*!40101 SET x=1",
        "x'4",
    ] {
        let lexed = tokenize(sql.as_bytes());
        assert!(lexed.incomplete, "{sql:?} should be incomplete");
        if let Some(last) = lexed.tokens.last() {
            assert!(last.end <= sql.len());
        }
    }
    assert_eq!(texts("SELECT 'abc"), ["SELECT", "'abc"]);
    for sql in ["SELECT 'abc'", "/* x */", "/*! x */", "-- x", "SELECT 1--"] {
        assert!(!tokenize(sql.as_bytes()).incomplete, "{sql:?} is complete");
    }
}

#[test]
fn unquoting() {
    assert_eq!(unquote_ident(b"`a``b`"), "a`b");
    assert_eq!(unquote_ident(b"plain"), "plain");
    assert_eq!(unquote_ident(b"`"), "`");
}

#[test]
fn non_utf8_bytes() {
    let sql = b"KILL \xff\xfe 5";
    let c = classify_bytes(sql);
    assert_eq!(c.kind, super::StatementKind::Admin);
    let sql = b"SELECT '\xff;\xc3' ; KILL 12";
    let parts = split_statements_bytes(sql);
    assert_eq!(parts.len(), 2);
    let second = &sql[parts[1].clone()];
    assert_eq!(second, b"KILL 12");
    match classify_bytes(second).detail {
        super::Detail::Kill {
            target: super::KillTarget::Id { id, range },
            ..
        } => {
            assert_eq!((id, &second[range]), (12, &b"12"[..]));
        }
        d => panic!("unexpected {d:?}"),
    }
    assert_eq!(
        classify_bytes(b"USE `\xffdb`").detail,
        super::Detail::Use {
            schema: "\u{fffd}db".into()
        }
    );
}

/// Small deterministic PRNG (xorshift64*), so the fuzz loop is repeatable.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub(super) const PIECES: &[&[u8]] = &[
    b"'",
    b"\"",
    b"`",
    b"\\",
    b"/*",
    b"*/",
    b"/*!",
    b"/*!50100",
    b"/*M!",
    b"--",
    b"-- ",
    b"#",
    b"\n",
    b" ",
    b";",
    b"(",
    b")",
    b",",
    b"?",
    b"@",
    b"@@",
    b"=",
    b":=",
    b"SELECT",
    b"UPDATE",
    b"INSERT",
    b"DELETE",
    b"SET",
    b"KILL",
    b"WITH",
    b"VALUES",
    b"WHERE",
    b"ORDER BY",
    b"LIMIT",
    b"t",
    b"a",
    b"1",
    b"0x",
    b"e",
    b".",
    b"-",
    b"*",
    b"\xc3\xa9",
    b"\xff",
    b"\x00",
    b"\xe2\x82",
    b"x'",
    b"N'",
    b"ON DUPLICATE KEY UPDATE",
    b"FROM",
    b"JOIN",
    b"AS",
    b"ROW",
];

#[test]
fn fuzz_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..6000 {
        let mut input = Vec::new();
        let pieces = rng.below(24);
        for _ in 0..pieces {
            if rng.below(5) == 0 {
                input.push(rng.next() as u8);
            } else {
                input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
        }
        let lexed = tokenize(&input);
        let mut prev_end = 0;
        for t in &lexed.tokens {
            assert!(
                prev_end <= t.start && t.start < t.end && t.end <= input.len(),
                "round {round}"
            );
            prev_end = t.end;
        }
        let _ = classify_bytes(&input);
        for r in split_statements_bytes(&input) {
            assert!(r.start < r.end && r.end <= input.len());
            let _ = classify_bytes(&input[r]);
        }
        if let Ok(s) = std::str::from_utf8(&input) {
            let _ = classify(s);
            for r in split_statements(s) {
                let _ = classify(&s[r.clone()]);
                let _ = parse_dml(&s[r]);
            }
            let _ = parse_dml(s);
        }
    }
}

#[test]
fn fuzz_dml_shapes() {
    // Structured random DML: must never panic, and when it parses, every
    // extracted text must be a substring of the input.
    let mut rng = Rng(42);
    let exprs = [
        "1",
        "?",
        "'a;b'",
        "'it\\'s'",
        "-2",
        "(1+2)",
        "NOT x",
        "x IS NULL",
        "CAST(1 AS CHAR)",
        "`c`",
        "f(a, b)",
        "\"q\"",
        "DEFAULT",
    ];
    for _ in 0..1500 {
        let shape = rng.below(3);
        let mut e = || exprs[rng.below(exprs.len())];
        let sql = match shape {
            0 => format!(
                "UPDATE t SET a = {}, b = {} WHERE c = {} ORDER BY d LIMIT 1",
                e(),
                e(),
                e()
            ),
            1 => format!("INSERT INTO t (a, b) VALUES ({}, {}), ({}, {})", e(), e(), e(), e()),
            _ => format!("DELETE FROM t WHERE a = {} AND b = {}", e(), e()),
        };
        if let Ok(info) = parse_dml(&sql) {
            let texts = info
                .set
                .iter()
                .map(|(_, v)| v.as_str())
                .chain(info.where_clause.as_deref());
            for t in texts {
                assert!(sql.contains(t), "{t:?} not in {sql:?}");
            }
        }
    }
}
