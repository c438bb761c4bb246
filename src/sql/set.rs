//! Classification of `SET` statements.
//!
//! `SET` covers very different things: transaction control (`autocommit`,
//! `SET TRANSACTION`), connection state (`NAMES`, session variables), server
//! state (`GLOBAL`/`PERSIST`), account management (`PASSWORD`, `DEFAULT
//! ROLE`) and MariaDB's `SET STATEMENT ... FOR <stmt>`, which is classified by
//! its inner statement.

use super::classify::{classify_tokens, upper};
use super::detail::{AccountOp, Detail, StatementKind, TxScope};
use super::lexer::{Cursor, Token, TokenKind};

/// Scope of one `SET` assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Session,
    Global,
    User,
}

/// Classifies a `SET` statement; `c` is positioned just after `SET`.
pub(super) fn classify_set(mut c: Cursor<'_>) -> (StatementKind, Detail) {
    let src = c.src();
    if c.is_kw("STATEMENT") {
        return set_statement(src, c.rest());
    }
    let scope = match upper(src, c.peek()).as_str() {
        "GLOBAL" | "PERSIST" | "PERSIST_ONLY" => Some(TxScope::Global),
        "SESSION" | "LOCAL" => Some(TxScope::Session),
        _ => None,
    };
    let tx_at = usize::from(scope.is_some());
    if c.nth_is_kw(tx_at, "TRANSACTION") {
        let d = Detail::SetTransaction {
            scope: scope.unwrap_or(TxScope::Next),
        };
        return (d.default_kind(), d);
    }
    let special = if c.is_kw("PASSWORD") {
        Some(Detail::Account(AccountOp::SetPassword))
    } else if c.eat_kws(&["DEFAULT", "ROLE"]) {
        Some(Detail::Account(AccountOp::SetDefaultRole))
    } else if c.is_kw("ROLE") {
        Some(Detail::SetRole)
    } else if c.eat_kws(&["RESOURCE", "GROUP"]) {
        Some(Detail::SetVariables { global: false })
    } else {
        None
    };
    if let Some(d) = special {
        return (d.default_kind(), d);
    }
    let items = split_top_level_commas(src, c.rest());
    if items.is_empty() {
        return (StatementKind::Unsupported, Detail::Unknown);
    }
    let mut autocommit: Option<Option<bool>> = None;
    let mut global = false;
    let mut first_is_names = false;
    for (i, item) in items.iter().enumerate() {
        let mut ic = Cursor::new(src, item);
        if ic.is_kw("NAMES") || ic.is_kw("CHARSET") || ic.eat_kws(&["CHARACTER", "SET"]) {
            first_is_names |= i == 0;
            continue;
        }
        let Some((scope, name, value)) = assignment(src, item) else {
            continue;
        };
        match scope {
            Scope::Global => global = true,
            Scope::Session if name.eq_ignore_ascii_case(b"autocommit") => {
                autocommit = Some(autocommit_value(src, value));
            }
            _ => {}
        }
    }
    let detail = if let Some(v) = autocommit {
        Detail::SetAutocommit(v)
    } else if first_is_names {
        Detail::SetNames
    } else {
        Detail::SetVariables { global }
    };
    (detail.default_kind(), detail)
}

/// MariaDB `SET STATEMENT var=value [, ...] FOR <stmt>`: classified by the
/// inner statement. `toks` starts at `STATEMENT`. Nested `SET STATEMENT`
/// prefixes are peeled off in a loop (no recursion on hostile input).
fn set_statement(src: &[u8], mut toks: &[Token]) -> (StatementKind, Detail) {
    loop {
        let mut depth = 0i32;
        let for_at = toks.iter().position(|t| {
            if t.is_punct(src, "(") {
                depth += 1;
            } else if t.is_punct(src, ")") {
                depth -= 1;
            }
            depth == 0 && t.is_kw(src, "FOR")
        });
        let Some(i) = for_at else {
            return (StatementKind::Unsupported, Detail::Unknown);
        };
        toks = &toks[i + 1..];
        let inner = Cursor::new(src, toks);
        if !(inner.is_kw("SET") && inner.nth_is_kw(1, "STATEMENT")) {
            return classify_tokens(src, toks);
        }
        toks = &toks[1..];
    }
}

/// Splits tokens on commas outside parentheses; drops empty items.
fn split_top_level_commas<'t>(src: &[u8], toks: &'t [Token]) -> Vec<&'t [Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.is_punct(src, "(") {
            depth += 1;
        } else if t.is_punct(src, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_punct(src, ",") {
            if i > start {
                out.push(&toks[start..i]);
            }
            start = i + 1;
        }
    }
    if toks.len() > start {
        out.push(&toks[start..]);
    }
    out
}

/// Parses `[GLOBAL|SESSION|...] name = value` / `@@[scope.]name = value` /
/// `@user = value`; returns the scope, the bare variable name and the value
/// tokens.
fn assignment<'a, 't>(src: &'a [u8], item: &'t [Token]) -> Option<(Scope, &'a [u8], &'t [Token])> {
    let eq = item
        .iter()
        .position(|t| t.is_punct(src, "=") || t.is_punct(src, ":="))?;
    let (lhs, value) = (&item[..eq], &item[eq + 1..]);
    let (scope, name_toks) = match lhs.first().map(|t| upper(src, Some(t))).as_deref() {
        Some("GLOBAL" | "PERSIST" | "PERSIST_ONLY") => (Scope::Global, &lhs[1..]),
        Some("SESSION" | "LOCAL") => (Scope::Session, &lhs[1..]),
        _ => (Scope::Session, lhs),
    };
    let [name_tok] = name_toks else {
        // `SESSION.x`-style or qualified names: treat as plain session names.
        return Some((scope, name_toks.last()?.text(src), value));
    };
    let text = name_tok.text(src);
    match name_tok.kind {
        TokenKind::Variable => {}
        TokenKind::QuotedIdent if text.len() >= 2 => {
            return Some((scope, &text[1..text.len() - 1], value));
        }
        _ => return Some((scope, text, value)),
    }
    if let Some(sys) = text.strip_prefix(b"@@") {
        let mut parts = sys.rsplitn(2, |b| *b == b'.');
        let name = parts.next().unwrap_or_default();
        let scope = match parts.next().map(|p| p.to_ascii_uppercase()).as_deref() {
            Some(b"GLOBAL" | b"PERSIST" | b"PERSIST_ONLY") => Scope::Global,
            _ => scope,
        };
        return Some((scope, name, value));
    }
    Some((Scope::User, text, value))
}

/// The lexical value of an `autocommit` assignment, if it is a constant.
fn autocommit_value(src: &[u8], value: &[Token]) -> Option<bool> {
    let [t] = value else { return None };
    let text = t.text(src);
    let bare = match t.kind {
        TokenKind::Number | TokenKind::Word => text,
        TokenKind::String if text.len() >= 2 && matches!(text[0], b'\'' | b'"') => &text[1..text.len() - 1],
        _ => return None,
    };
    match bare.to_ascii_uppercase().as_slice() {
        b"1" | b"ON" | b"TRUE" => Some(true),
        b"0" | b"OFF" | b"FALSE" => Some(false),
        _ => None,
    }
}
