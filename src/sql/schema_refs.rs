//! Schema names a statement names explicitly.
//!
//! Reported (lowercased, unquoted, each once, in order of appearance):
//!
//! - the first part of every dotted name: `db.t`, `` `db`.`t` ``, `db . t`,
//!   `db.t.c`, `db.*`, `db.f(..)`. Lexically `db.t` and `t.c` look alike, so
//!   a table qualifier (`SELECT t.c FROM t`) is reported too: the list may
//!   hold names that are not schemas, but holds every schema used as a
//!   qualifier;
//! - `USE db` (at the start of a statement);
//! - `CREATE | DROP | ALTER [OR REPLACE] DATABASE | SCHEMA [IF [NOT] EXISTS]
//!   db` (also after `SHOW CREATE`);
//! - the `FROM db` / `IN db` of a `SHOW` statement (`SHOW TABLES FROM db`).
//!
//! System variables (`@@global.x`) and strings are never reported.

use super::lexer::{tokenize_with, unquote_ident, LexOptions, Token, TokenKind};

fn is_name(t: Option<&Token>) -> bool {
    t.is_some_and(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
}

/// Words that may follow `ALTER DATABASE` when the name is left out.
const ALTER_DB_OPTIONS: &[&str] = &["DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT"];

pub(super) fn schema_refs(text: &[u8], opts: LexOptions) -> Vec<String> {
    let toks = tokenize_with(text, opts).tokens;
    let src = text;
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: &Token| {
        let name = unquote_ident(t.text(src)).to_lowercase();
        if !out.contains(&name) {
            out.push(name);
        }
    };
    let mut statement_start = true;
    let mut in_show = false;
    for (i, t) in toks.iter().enumerate() {
        let at_start = std::mem::replace(&mut statement_start, t.is_punct(src, ";"));
        if t.is_punct(src, ";") {
            in_show = false;
            continue;
        }
        if at_start {
            in_show = t.is_kw(src, "SHOW");
            if t.is_kw(src, "USE") && is_name(toks.get(i + 1)) {
                push(&toks[i + 1]);
            }
        }
        let next = toks.get(i + 1);
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        let qualifier = matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent)
            && next.is_some_and(|n| n.is_punct(src, "."))
            && toks
                .get(i + 2)
                .is_some_and(|n| matches!(n.kind, TokenKind::Word | TokenKind::QuotedIdent) || n.is_punct(src, "*"))
            && !prev.is_some_and(|p| p.is_punct(src, "."));
        if qualifier {
            push(t);
        }
        if in_show && (t.is_kw(src, "FROM") || t.is_kw(src, "IN")) && is_name(next) {
            if let Some(n) = next {
                push(n);
            }
        }
        if t.is_kw(src, "DATABASE") || t.is_kw(src, "SCHEMA") {
            let verb_at = toks[i.saturating_sub(3)..i]
                .iter()
                .rev()
                .find(|p| p.is_kw(src, "CREATE") || p.is_kw(src, "DROP") || p.is_kw(src, "ALTER"));
            let Some(verb) = verb_at else { continue };
            let mut j = i + 1;
            if toks.get(j).is_some_and(|n| n.is_kw(src, "IF")) {
                j += 1;
                if toks.get(j).is_some_and(|n| n.is_kw(src, "NOT")) {
                    j += 1;
                }
                if toks.get(j).is_some_and(|n| n.is_kw(src, "EXISTS")) {
                    j += 1;
                }
            }
            let Some(name) = toks.get(j).filter(|n| is_name(Some(n))) else {
                continue;
            };
            let option = name.kind == TokenKind::Word
                && ALTER_DB_OPTIONS.iter().any(|o| name.is_kw(src, o))
                && verb.is_kw(src, "ALTER");
            if !option {
                push(name);
            }
        }
    }
    out
}
