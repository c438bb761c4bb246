//! Side effects hidden in statements the classifier files as reads.
//!
//! A `SELECT`, `WITH ... SELECT`, `DO`, `VALUES` or `SET @x = (SELECT ...)`
//! can still change data:
//!
//! - a call to a function that is not built in may run a stored function
//!   (or a UDF), which may write: `f(..)`, `` `f`(..) `` and every qualified
//!   call `db.f(..)`;
//! - sequences: `NEXTVAL(s)`, `SETVAL(s, ..)`, `NEXT VALUE FOR s`, and the
//!   Oracle-mode `s.nextval` (`LASTVAL`, `PREVIOUS VALUE FOR` and `currval`
//!   only read);
//! - `SELECT ... INTO OUTFILE|DUMPFILE` writes a file on the server host.
//!
//! Built-in names come from [`super::builtins`]. A backquoted name is
//! reported even when it spells a built-in: the server resolves some quoted
//! built-in names (`` `now`() ``) as stored functions.
//!
//! Not detectable lexically: a view whose definition calls a stored
//! function, and `SELECT @x := ...` (user variables are session state, not
//! data).

use super::builtins::{is_builtin_function, is_syntax_word};
use super::classify::upper;
use super::lexer::{tokenize_with, unquote_ident, LexOptions, Token, TokenKind};

/// What a statement filed as a read may change
/// (see [`read_writes_with`](super::read_writes_with)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ReadWrites {
    /// Calls that may run stored code, lowercased and unquoted, as written
    /// (`f`, `db.f`), in order of appearance, without duplicates.
    pub stored_functions: Vec<String>,
    /// `NEXTVAL(`, `SETVAL(`, `NEXT VALUE FOR`, or `.nextval`.
    pub sequences: bool,
    /// `INTO OUTFILE` / `INTO DUMPFILE`: writes a file on the server host.
    pub server_file: bool,
}

impl ReadWrites {
    /// True when anything may be written.
    pub fn any(&self) -> bool {
        !self.stored_functions.is_empty() || self.sequences || self.server_file
    }
}

fn is_name(t: Option<&Token>) -> bool {
    t.is_some_and(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
}

/// Index of the `)` closing the `(` at `open`, if any.
fn closing(src: &[u8], toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t.is_punct(src, "(") {
            depth += 1;
        } else if t.is_punct(src, ")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Top-level arguments of the group opening at `open`: (count, whether a
/// top-level `COLUMNS` keyword occurs).
fn group_args(src: &[u8], toks: &[Token], open: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut commas = 0;
    let mut columns = false;
    let mut empty = true;
    for t in toks.iter().skip(open) {
        if t.is_punct(src, "(") {
            depth += 1;
            if depth == 1 {
                continue;
            }
        } else if t.is_punct(src, ")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                break;
            }
        }
        empty = false;
        if depth == 1 {
            commas += usize::from(t.is_punct(src, ","));
            columns |= t.is_kw(src, "COLUMNS");
        }
    }
    (if empty { 0 } else { commas + 1 }, columns)
}

/// True when `word` at `i` (followed by `(`) calls a built-in. Some built-ins
/// exist only in one shape; any other shape is looked up as a stored
/// function (checked on the server): `JSON_TABLE` needs its `COLUMNS`
/// clause, `POINT` two arguments, the other geometry constructors at least
/// one.
fn builtin_call(src: &[u8], toks: &[Token], i: usize, word: &str) -> bool {
    if !is_builtin_function(word) {
        return false;
    }
    let (args, columns) = group_args(src, toks, i + 1);
    match word {
        "JSON_TABLE" => columns,
        "POINT" => args == 2,
        "GEOMETRYCOLLECTION" | "LINESTRING" | "MULTILINESTRING" | "MULTIPOINT" | "MULTIPOLYGON" | "POLYGON" => {
            args >= 1
        }
        _ => true,
    }
}

/// True when `word` at `i` (followed by `(`) is syntax, not a call. Words
/// that are also valid stored-function names count as syntax only in their
/// syntactic position.
fn syntax_use(src: &[u8], toks: &[Token], i: usize, word: &str) -> bool {
    let prev = i.checked_sub(1).and_then(|p| toks.get(p));
    match word {
        // `MATCH (a) AGAINST ('x')`.
        "AGAINST" => prev.is_some_and(|p| p.is_punct(src, ")")),
        // `JSON_TABLE(doc, '$' COLUMNS (...))`, `NESTED [PATH] '$' COLUMNS (...)`.
        "COLUMNS" => prev.is_some_and(|p| p.kind == TokenKind::String),
        // `FOR SYSTEM_TIME AS OF (expr)`.
        "OF" => prev.is_some_and(|p| p.is_kw(src, "AS")),
        // `SELECT ... PROCEDURE ANALYSE()`.
        "ANALYSE" => prev.is_some_and(|p| p.is_kw(src, "PROCEDURE")),
        _ => is_syntax_word(word),
    }
}

fn push_unique(name: String, out: &mut ReadWrites) {
    if !out.stored_functions.contains(&name) {
        out.stored_functions.push(name);
    }
}

pub(super) fn read_writes(text: &[u8], opts: LexOptions) -> ReadWrites {
    let toks = tokenize_with(text, opts).tokens;
    let src = text;
    let mut out = ReadWrites::default();
    for (i, t) in toks.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        let after_dot = prev.is_some_and(|p| p.is_punct(src, "."));
        let next_is_open = toks.get(i + 1).is_some_and(|n| n.is_punct(src, "("));
        if t.is_kw(src, "INTO") && matches!(upper(src, toks.get(i + 1)).as_str(), "OUTFILE" | "DUMPFILE") {
            out.server_file = true;
        }
        if t.is_kw(src, "NEXT")
            && toks.get(i + 1).is_some_and(|n| n.is_kw(src, "VALUE"))
            && toks.get(i + 2).is_some_and(|n| n.is_kw(src, "FOR"))
        {
            out.sequences = true;
        }
        if !matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent) {
            continue;
        }
        if !next_is_open {
            if after_dot && t.is_kw(src, "NEXTVAL") {
                out.sequences = true;
            }
            continue;
        }
        let name = unquote_ident(t.text(src));
        if after_dot {
            let qualifier = i.checked_sub(2).and_then(|q| toks.get(q));
            if is_name(qualifier) {
                let q = qualifier.map(|q| unquote_ident(q.text(src))).unwrap_or_default();
                push_unique(format!("{q}.{name}").to_lowercase(), &mut out);
            }
            continue;
        }
        // `WITH cte (a, b) AS (...)`: a column list, not a call.
        let cte_columns = closing(src, &toks, i + 1).is_some_and(|close| {
            toks.get(close + 1).is_some_and(|a| a.is_kw(src, "AS"))
                && toks.get(close + 2).is_some_and(|p| p.is_punct(src, "("))
        });
        if cte_columns {
            continue;
        }
        if t.kind == TokenKind::QuotedIdent {
            push_unique(name.to_lowercase(), &mut out);
            continue;
        }
        let word = name.to_ascii_uppercase();
        if word == "NEXTVAL" || word == "SETVAL" {
            out.sequences = true;
        } else if !(builtin_call(src, &toks, i, &word) || syntax_use(src, &toks, i, &word)) {
            push_unique(name.to_lowercase(), &mut out);
        }
    }
    out
}
