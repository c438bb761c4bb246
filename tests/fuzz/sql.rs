//! The SQL lexer, statement splitter and classifier (`sql`), and what the session builds on
//! them: the group route decision (`frontend::route`) and the `ROW_COUNT()` splice. Inputs are
//! arbitrary bytes and "token soups": SQL keywords, quotes, escapes, every comment form
//! (`/* */`, `/*! */`, `/*!50100`, `/*M! */`, `-- `, `#`), and multi-byte characters whose
//! trail byte is `\` or `` ` `` in gbk/big5/sjis, under every lexical mode the lexer models
//! (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`, each multi-byte client character set).

use grproxy::frontend::route::{route, Route};
use grproxy::frontend::row_count::{diagnostics_targets, splice};
use grproxy::sql::lexer::{tokenize, tokenize_with, unquote_ident, Lexed};
use grproxy::sql::{
    self, classify_bytes_with, commits_implicitly, parse_dml, split_statements_bytes_with, Detail, KillTarget,
    LexCharset, LexOptions,
};
use proptest::prelude::*;

use crate::support::{bytes, config, config_div};

const CHARSETS: &[LexCharset] = &[
    LexCharset::Default,
    LexCharset::Gbk,
    LexCharset::Big5,
    LexCharset::Sjis,
    LexCharset::Cp932,
    LexCharset::Gb18030,
];

fn options() -> impl Strategy<Value = LexOptions> {
    (any::<bool>(), any::<bool>(), prop::sample::select(CHARSETS)).prop_map(|(nbe, ansi, charset)| LexOptions {
        no_backslash_escapes: nbe,
        ansi_quotes: ansi,
        charset,
    })
}

/// Pieces of SQL text that change where tokens and statements end.
const FRAGMENTS: &[&[u8]] = &[
    // verbs and words the classifier and router look at
    b"SELECT",
    b"INSERT",
    b"INTO",
    b"UPDATE",
    b"DELETE",
    b"REPLACE",
    b"FROM",
    b"WHERE",
    b"VALUES",
    b"SET",
    b"GLOBAL",
    b"SESSION",
    b"STATEMENT",
    b"FOR",
    b"autocommit",
    b"sql_log_bin",
    b"@@",
    b"@",
    b"@x",
    b"@@session.",
    b"NAMES",
    b"BEGIN",
    b"WORK",
    b"START",
    b"TRANSACTION",
    b"READ",
    b"ONLY",
    b"COMMIT",
    b"ROLLBACK",
    b"AND",
    b"CHAIN",
    b"RELEASE",
    b"NO",
    b"XA",
    b"END",
    b"PREPARE",
    b"EXECUTE",
    b"CALL",
    b"DO",
    b"WITH",
    b"USE",
    b"SHOW",
    b"GRPROXY",
    b"STATUS",
    b"CREATE",
    b"ALTER",
    b"DROP",
    b"TABLE",
    b"TEMPORARY",
    b"PROCEDURE",
    b"TRIGGER",
    b"DATABASE",
    b"LOCK",
    b"TABLES",
    b"UNLOCK",
    b"KILL",
    b"QUERY",
    b"CONNECTION",
    b"ID",
    b"USER",
    b"LOAD",
    b"DATA",
    b"LOCAL",
    b"INFILE",
    b"OUTFILE",
    b"DUMPFILE",
    b"NEXTVAL",
    b"SETVAL",
    b"NEXT VALUE FOR",
    b"ROW_COUNT",
    b"GET",
    b"DIAGNOSTICS",
    b"grproxy",
    b"grproxy.t",
    b"db.t",
    b"t",
    b"f(",
    b"IF",
    b"NOT",
    b"EXISTS",
    // punctuation
    b";",
    b";",
    b";",
    b",",
    b"(",
    b")",
    b"()",
    b"=",
    b".",
    b"*",
    b":=",
    b"<=>",
    b"->",
    b"->>",
    b"?",
    b"-",
    b"+",
    b"/",
    b"!",
    b"|",
    b"&",
    // quotes and escapes
    b"'",
    b"\"",
    b"`",
    b"\\",
    b"\\'",
    b"\\\"",
    b"''",
    b"\"\"",
    b"``",
    b"'x'",
    b"\"x\"",
    b"`x`",
    b"N'",
    b"X'",
    b"b'",
    b"_utf8mb4'",
    b"@'",
    b"@`",
    // comments, executable comments, their ends
    b"/*",
    b"*/",
    b"/*!",
    b"/*!50100",
    b"/*!999999",
    b"/*M!",
    b"/*M!100100",
    b"/*+",
    b"-- ",
    b"--",
    b"--\t",
    b"#",
    b"\n",
    b"\r\n",
    // numbers
    b"1",
    b"0x1F",
    b"1e-3",
    b".5",
    b"18446744073709551615",
    b"18446744073709551616",
    // multi-byte characters: trail byte `\` or `` ` `` (gbk/big5/sjis), gb18030 four-byte,
    // lone lead bytes, broken and valid UTF-8
    b"\xB5\x5C",
    b"\x81\x60",
    b"\xA1\x5C",
    b"\x95\x5C",
    b"\x81\x30\x81\x30",
    b"\x81",
    b"\xFE",
    b"\xC3",
    b"\xE2\x82",
    b"\xC3\xA9",
    b"\xE4\xB8\xAD",
    // whitespace
    b" ",
    b"  ",
    b"\t",
    b"\x0b",
    b"\x0c",
];

/// Concatenated fragments, with or without a space between each.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((prop::sample::select(FRAGMENTS), any::<bool>()), 0..40).prop_map(|parts| {
        let mut out = Vec::new();
        for (f, space) in parts {
            out.extend_from_slice(f);
            if space {
                out.push(b' ');
            }
        }
        out
    })
}

/// SQL-ish text: a token soup, arbitrary bytes, or arbitrary text.
fn sql_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => soup(),
        2 => bytes(120),
        1 => "\\PC{0,60}".prop_map(String::into_bytes),
    ]
}

/// What every lexing promises: tokens non-empty, in order, disjoint, inside the buffer;
/// dropped executable-comment markers inside the buffer and outside every token.
fn check_lexed(src: &[u8], lexed: &Lexed) -> Result<(), TestCaseError> {
    let mut prev_end = 0;
    for t in &lexed.tokens {
        prop_assert!(
            t.start < t.end && t.end <= src.len(),
            "token {:?} in {} bytes",
            t,
            src.len()
        );
        prop_assert!(t.start >= prev_end, "token {:?} overlaps the one before", t);
        prev_end = t.end;
    }
    for m in &lexed.exec_markers {
        prop_assert!(m.start < m.end && m.end <= src.len(), "marker {:?}", m);
        prop_assert!(
            lexed.tokens.iter().all(|t| t.end <= m.start || t.start >= m.end),
            "marker {:?} overlaps a token",
            m
        );
    }
    Ok(())
}

/// What splitting promises: statement ranges in order, disjoint, non-empty, trimmed of
/// whitespace (never into a token); every token of the whole text lies inside one statement, or is a `;` between
/// statements.
fn check_split(src: &[u8], stmts: &[std::ops::Range<usize>], lexed: &Lexed) -> Result<(), TestCaseError> {
    let mut prev_end = 0;
    for r in stmts {
        prop_assert!(
            r.start < r.end && r.end <= src.len() && r.start >= prev_end,
            "range {:?}",
            r
        );
        prop_assert!(!src[r.start].is_ascii_whitespace());
        // Trimmed, except where an unterminated string runs to the end of the input.
        let token_ends_here = lexed.tokens.iter().any(|t| t.end == r.end);
        prop_assert!(
            !src[r.end - 1].is_ascii_whitespace() || token_ends_here,
            "range {:?}",
            r
        );
        prev_end = r.end;
    }
    for t in &lexed.tokens {
        let inside = stmts.iter().filter(|r| r.start <= t.start && t.end <= r.end).count();
        if t.is_punct(src, ";") && inside == 0 {
            continue;
        }
        prop_assert_eq!(
            inside,
            1,
            "token {:?} ({:?}) not in exactly one statement",
            t,
            t.text(src)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// The lexer on anything, in any mode: no panic, well-formed tokens; for valid UTF-8
    /// under the default character set every boundary is a char boundary (what lets the DML
    /// extractor slice `&str`s).
    #[test]
    fn lexer_tokens_are_well_formed(src in sql_text(), opts in options()) {
        let lexed = tokenize_with(&src, opts);
        check_lexed(&src, &lexed)?;
        if let (Ok(s), LexCharset::Default) = (std::str::from_utf8(&src), opts.charset) {
            for t in &lexed.tokens {
                prop_assert!(s.is_char_boundary(t.start) && s.is_char_boundary(t.end), "token {:?}", t);
            }
        }
        for t in &lexed.tokens {
            let _ = unquote_ident(t.text(&src));
        }
        for n in 0..src.len().min(8) {
            let len = opts.charset.char_len(&src[n..]);
            prop_assert!(matches!(len, 1 | 2 | 4) && (len == 1 || len <= src.len() - n));
        }
    }

    /// Text without quotes, backslashes or non-ASCII bytes lexes the same in every mode (what
    /// `lexing_depends_on_settings` tells the session).
    #[test]
    fn settings_only_matter_where_promised(src in sql_text(), opts in options()) {
        if !sql::lexing_depends_on_settings(&src) {
            prop_assert_eq!(tokenize_with(&src, opts), tokenize(&src));
        }
    }

    /// Splitting is consistent with the lexing and the classifier, and re-joining the
    /// statements gives statements that split back the same.
    #[test]
    fn splitting_is_consistent(src in sql_text(), opts in options()) {
        let lexed = tokenize_with(&src, opts);
        let stmts = split_statements_bytes_with(&src, opts);
        check_split(&src, &stmts, &lexed)?;

        let c = classify_bytes_with(&src, opts);
        prop_assert_eq!(c.multi_statement, stmts.len() > 1);
        prop_assert_eq!(c.incomplete, lexed.incomplete);
        prop_assert_eq!(stmts.is_empty(), c.detail == Detail::Empty);

        // Re-joined with `;`, right after the statement's last token (`--;` stays two
        // minus signs), or on a new line after a trailing comment (`-- c` must end first);
        // the last one too when it ends with a complete token (`--` alone at the end of the
        // input is a comment; an unterminated string would swallow the `;`).
        let texts: Vec<&[u8]> = stmts.iter().map(|r| &src[r.clone()]).collect();
        let ends_with_token = |r: &std::ops::Range<usize>| lexed.tokens.iter().any(|t| t.end == r.end);
        let mut joined = Vec::new();
        for (i, r) in stmts.iter().enumerate() {
            joined.extend_from_slice(&src[r.clone()]);
            if i + 1 < stmts.len() {
                joined.extend_from_slice(if ends_with_token(r) { b";\n" } else { b"\n;\n" });
            } else if ends_with_token(r) && (r.end < src.len() || !lexed.incomplete) {
                joined.push(b';');
            }
        }
        let again = split_statements_bytes_with(&joined, opts);
        let again: Vec<&[u8]> = again.iter().map(|r| &joined[r.clone()]).collect();
        prop_assert_eq!(again, texts);
    }

    /// What a session does with a COM_QUERY: split, classify each statement, route the
    /// command, look for ROW_COUNT(): no panic; KILL ids point at their digits.
    #[test]
    fn session_pipeline_never_panics(src in sql_text(), opts in options(), value: i64) {
        let stmts = split_statements_bytes_with(&src, opts);
        let parts: Vec<&[u8]> = stmts.iter().map(|r| &src[r.clone()]).collect();
        let classes: Vec<_> = parts.iter().map(|p| classify_bytes_with(p, opts)).collect();
        for (p, c) in parts.iter().zip(&classes) {
            prop_assert!(!c.multi_statement);
            let _ = commits_implicitly(c);
            if let Detail::Kill { target: KillTarget::Id { id, range } | KillTarget::QueryId { id, range }, .. } = &c.detail {
                let digits = p.get(range.clone()).expect("KILL id range inside the statement");
                prop_assert_eq!(std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()), Some(*id));
            }
            let _ = sql::read_writes_with(p, opts);
            let _ = sql::session_variables_set_with(p, opts);
            let _ = sql::qualified_schema_refs_with(p, opts);
        }
        let r = route(&parts, &classes);
        if parts.is_empty() {
            prop_assert_eq!(r, Route::Forward);
        }
        if let Some(out) = splice(&src, value, opts) {
            prop_assert!(out != src);
        }
        let _ = diagnostics_targets(&src, opts);
    }

    /// Lexical options from any sql_mode string; charset from any name or collation id.
    #[test]
    fn lexical_settings_from_anything(mode in "\\PC{0,40}", modes in prop::collection::vec(
        prop::sample::select(vec!["ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI", "ORACLE", "STRICT_TRANS_TABLES", " ansi_quotes ", ""]),
        0..5,
    ), name in "\\PC{0,10}", id: u16) {
        let _ = LexOptions::default().with_sql_mode(&mode);
        let o = LexOptions::default().with_sql_mode(&modes.join(","));
        let has = |m: &str| modes.iter().any(|x| x.trim().eq_ignore_ascii_case(m));
        prop_assert_eq!(o.no_backslash_escapes, has("NO_BACKSLASH_ESCAPES"));
        prop_assert_eq!(o.ansi_quotes, has("ANSI_QUOTES") || has("ANSI") || has("ORACLE"));
        let _ = LexCharset::from_name(&name);
        let _ = LexCharset::from_collation_id(id);
    }
}

proptest! {
    #![proptest_config(config_div(4))]

    /// DML extraction (sqlparser for structure, the lexer for text) on any text: no panic,
    /// and what it returns are slices of the input.
    #[test]
    fn dml_extraction_never_panics(src in prop_oneof![
        soup().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "(INSERT|UPDATE|DELETE|REPLACE) \\PC{0,60}",
    ]) {
        if let Ok(info) = parse_dml(&src) {
            if let Some(w) = &info.where_clause {
                prop_assert!(src.contains(w.as_str()));
            }
        }
    }
}
