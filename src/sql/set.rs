//! Classification of `SET` statements, and the variables they assign.
//!
//! `SET` covers very different things: transaction control (`autocommit`,
//! `SET TRANSACTION`), connection state (`NAMES`, session variables), server
//! state (`GLOBAL`/`PERSIST`), account management (`PASSWORD`, `DEFAULT
//! ROLE`) and MariaDB's `SET STATEMENT ... FOR <stmt>`, which is classified by
//! its inner statement.
//!
//! Scope rules, as MariaDB 10.11 applies them (checked on the server):
//!
//! - a `GLOBAL` / `SESSION` / `LOCAL` keyword sets the scope of its own
//!   assignment *and of every later bare name* in the same statement, until
//!   the next such keyword: `SET GLOBAL a=1, autocommit=0` sets the global
//!   `autocommit`;
//! - `@@name` is always the session variable and `@@global.name` the global
//!   one, whatever keyword came earlier, and neither changes the scope of
//!   later bare names;
//! - `@@scope.name` may be split by spaces or comments (`@@session .
//!   autocommit`), and either part may be backquoted (`@@session.`x``).
//!
//! Values `autocommit` accepts: the numbers 0 and 1 (any number of leading
//! zeros), `ON`/`OFF`/`TRUE`/`FALSE` (unquoted), `'ON'`/`'OFF'` as strings or
//! quoted identifiers, any case. The strings `'0'`, `'1'`, `'true'` are
//! rejected by the server, so they classify as `None` (not a known value).

use super::classify::{classify_tokens, upper};
use super::detail::{AccountOp, Detail, StatementKind, TxScope, VarScope};
use super::lexer::{tokenize_with, unquote_ident, Cursor, LexOptions, Token, TokenKind};

/// One parsed `SET` assignment.
#[derive(Debug)]
struct Assignment<'t> {
    scope: VarScope,
    /// Lowercased variable name (dotted parts joined with `.`).
    name: String,
    value: &'t [Token],
}

/// One item of a `SET` list.
#[derive(Debug)]
enum Item<'t> {
    Assign(Assignment<'t>),
    /// `NAMES ...`, `CHARACTER SET ...`, `CHARSET ...`.
    Names {
        character_set: bool,
    },
    /// Something without `=` (not an assignment we understand).
    Other,
}

const GLOBAL_KWS: &[&str] = &["GLOBAL", "PERSIST", "PERSIST_ONLY"];
const SESSION_KWS: &[&str] = &["SESSION", "LOCAL"];

fn scope_kw(src: &[u8], t: Option<&Token>) -> Option<VarScope> {
    let w = upper(src, t);
    if GLOBAL_KWS.contains(&w.as_str()) {
        Some(VarScope::Global)
    } else if SESSION_KWS.contains(&w.as_str()) {
        Some(VarScope::Session)
    } else {
        None
    }
}

/// Classifies a `SET` statement; `c` is positioned just after `SET`.
pub(super) fn classify_set(mut c: Cursor<'_>) -> (StatementKind, Detail) {
    let src = c.src();
    if c.is_kw("STATEMENT") {
        return set_statement(src, c.rest());
    }
    let scope = scope_kw(src, c.peek()).map(|s| match s {
        VarScope::Global => TxScope::Global,
        _ => TxScope::Session,
    });
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
    let items = items(src, c.rest());
    if items.is_empty() {
        return (StatementKind::Unsupported, Detail::Unknown);
    }
    let mut autocommit: Option<Option<bool>> = None;
    let mut global = false;
    for item in &items {
        let Item::Assign(a) = item else { continue };
        match a.scope {
            VarScope::Global => global = true,
            VarScope::Session if a.name == "autocommit" => {
                autocommit = Some(autocommit_value(src, a.value));
            }
            _ => {}
        }
    }
    let detail = if let Some(v) = autocommit {
        Detail::SetAutocommit(v)
    } else if matches!(items.first(), Some(Item::Names { .. })) {
        Detail::SetNames
    } else {
        Detail::SetVariables { global }
    };
    (detail.default_kind(), detail)
}

/// Index of the top-level `FOR` of a `SET STATEMENT` list in `toks`.
fn statement_for(src: &[u8], toks: &[Token]) -> Option<usize> {
    let mut depth = 0i32;
    toks.iter().position(|t| {
        if t.is_punct(src, "(") {
            depth += 1;
        } else if t.is_punct(src, ")") {
            depth -= 1;
        }
        depth == 0 && t.is_kw(src, "FOR")
    })
}

/// MariaDB `SET STATEMENT var=value [, ...] FOR <stmt>`: classified by the
/// inner statement. `toks` starts at `STATEMENT`. Nested `SET STATEMENT`
/// prefixes are peeled off in a loop (no recursion on hostile input).
fn set_statement(src: &[u8], mut toks: &[Token]) -> (StatementKind, Detail) {
    loop {
        let Some(i) = statement_for(src, toks) else {
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

/// Parses the assignment list after `SET` (or after `SET STATEMENT`),
/// carrying the scope of `GLOBAL`/`SESSION`/`LOCAL` keywords forward.
fn items<'t>(src: &[u8], toks: &'t [Token]) -> Vec<Item<'t>> {
    let mut default_scope = VarScope::Session;
    split_top_level_commas(src, toks)
        .into_iter()
        .map(|item| {
            let mut c = Cursor::new(src, item);
            if c.is_kw("NAMES") || c.is_kw("CHARSET") {
                return Item::Names {
                    character_set: c.is_kw("CHARSET"),
                };
            }
            if c.eat_kws(&["CHARACTER", "SET"]) {
                return Item::Names { character_set: true };
            }
            assignment(src, item, &mut default_scope).map_or(Item::Other, Item::Assign)
        })
        .collect()
}

/// Parses `[GLOBAL|SESSION|...] name = value`, `@@[scope.]name = value` or
/// `@user = value`.
fn assignment<'t>(src: &[u8], item: &'t [Token], default_scope: &mut VarScope) -> Option<Assignment<'t>> {
    let eq = item
        .iter()
        .position(|t| t.is_punct(src, "=") || t.is_punct(src, ":="))?;
    let (mut lhs, value) = (&item[..eq], &item[eq + 1..]);
    // A scope keyword, unless it is the first part of a dotted name
    // (`session.x` is a structured variable, which the server rejects).
    if lhs.len() > 1 && !lhs[1].is_punct(src, ".") {
        if let Some(s) = scope_kw(src, lhs.first()) {
            *default_scope = s;
            lhs = &lhs[1..];
        }
    }
    let first = lhs.first()?;
    let text = first.text(src);
    if first.kind == TokenKind::Variable && !text.starts_with(b"@@") {
        let name = unquote_any(&text[1..]).to_lowercase();
        return Some(Assignment {
            scope: VarScope::User,
            name,
            value,
        });
    }
    let mut parts: Vec<String> = Vec::new();
    let system = first.kind == TokenKind::Variable;
    let rest = if system {
        let body = &text[2..];
        if matches!(body.first(), Some(b'`' | b'"' | b'\'')) {
            parts.push(unquote_any(body));
        } else {
            parts.extend(
                body.split(|b| *b == b'.')
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            );
        }
        &lhs[1..]
    } else {
        lhs
    };
    for t in rest {
        match t.kind {
            TokenKind::Word | TokenKind::QuotedIdent => {
                let part = unquote_ident(t.text(src));
                match parts.last_mut() {
                    Some(last) if last.is_empty() => *last = part,
                    _ => parts.push(part),
                }
            }
            TokenKind::Punct if t.is_punct(src, ".") => parts.push(String::new()),
            _ => return None,
        }
    }
    parts.retain(|p| !p.is_empty());
    let mut parts: Vec<String> = parts.into_iter().map(|p| p.to_lowercase()).collect();
    let mut scope = if system { VarScope::Session } else { *default_scope };
    if system && parts.len() >= 2 {
        match parts[0].as_str() {
            "global" | "persist" | "persist_only" => scope = VarScope::Global,
            "session" | "local" => scope = VarScope::Session,
            _ => {}
        }
        if matches!(
            parts[0].as_str(),
            "global" | "persist" | "persist_only" | "session" | "local"
        ) {
            parts.remove(0);
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(Assignment {
        scope,
        name: parts.join("."),
        value,
    })
}

/// Unquotes a name that may be backquoted or quoted with `'` / `"`.
fn unquote_any(text: &[u8]) -> String {
    match text {
        [b'\'', inner @ .., b'\''] => String::from_utf8_lossy(inner).replace("''", "'"),
        _ => unquote_ident(text),
    }
}

/// The value of an `autocommit` assignment, if it is a constant the server
/// accepts (see the module docs).
fn autocommit_value(src: &[u8], value: &[Token]) -> Option<bool> {
    let value = match value {
        [open, inner @ .., close] if open.is_punct(src, "(") && close.is_punct(src, ")") => {
            // `(0)` and `(TRUE)` are accepted; `(ON)` is a column reference.
            return match inner {
                [t] if t.kind == TokenKind::Number => number_bool(t.text(src)),
                [t] if t.kind == TokenKind::Word => word_bool(t.text(src), false),
                _ => None,
            };
        }
        // A character set introducer: `_latin1'ON'`.
        [intro, s]
            if intro.kind == TokenKind::Word && intro.text(src).starts_with(b"_") && s.kind == TokenKind::String =>
        {
            std::slice::from_ref(s)
        }
        v => v,
    };
    let [t] = value else { return None };
    let text = t.text(src);
    match t.kind {
        TokenKind::Number => number_bool(text),
        TokenKind::Word => word_bool(text, true),
        TokenKind::String | TokenKind::QuotedIdent => match text {
            [q @ (b'\'' | b'"' | b'`'), inner @ .., last] if last == q => match inner.to_ascii_uppercase().as_slice() {
                b"ON" => Some(true),
                b"OFF" => Some(false),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn number_bool(text: &[u8]) -> Option<bool> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let digits = text.iter().skip_while(|b| **b == b'0').count();
    match (digits, text.last()) {
        (0, _) => Some(false),
        (1, Some(b'1')) => Some(true),
        _ => None,
    }
}

fn word_bool(text: &[u8], on_off: bool) -> Option<bool> {
    match text.to_ascii_uppercase().as_slice() {
        b"TRUE" => Some(true),
        b"FALSE" => Some(false),
        b"ON" if on_off => Some(true),
        b"OFF" if on_off => Some(false),
        _ => None,
    }
}

/// The variables a `SET` statement assigns: see
/// [`session_variables_set_with`](super::session_variables_set_with).
pub(super) fn variables_set(text: &[u8], opts: LexOptions) -> Vec<(VarScope, String)> {
    let lexed = tokenize_with(text, opts);
    let toks = &lexed.tokens;
    // First statement only (`;` ends it).
    let end = toks.iter().position(|t| t.is_punct(text, ";")).unwrap_or(toks.len());
    let mut toks = &toks[..end];
    let mut out = Vec::new();
    loop {
        let mut c = Cursor::new(text, toks);
        if !c.eat_kw("SET") {
            return out;
        }
        if c.eat_kw("STATEMENT") {
            let rest = c.rest();
            let Some(i) = statement_for(text, rest) else {
                push_items(text, rest, &mut out);
                return out;
            };
            push_items(text, &rest[..i], &mut out);
            toks = &rest[i + 1..];
            continue;
        }
        if let Some(scope) = scope_kw(text, c.peek()) {
            if c.nth_is_kw(1, "TRANSACTION") {
                let names = transaction_variables(text, &c.rest()[2..]);
                out.extend(names.into_iter().map(|n| (scope, n.to_string())));
                return out;
            }
        }
        if c.is_any_kw(&["TRANSACTION", "PASSWORD", "ROLE"]) || (c.is_kw("DEFAULT") && c.nth_is_kw(1, "ROLE")) {
            return out;
        }
        push_items(text, c.rest(), &mut out);
        return out;
    }
}

/// Session variables `SET SESSION|GLOBAL TRANSACTION ...` changes.
fn transaction_variables(src: &[u8], toks: &[Token]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.is_kw(src, "ISOLATION") {
            out.push("transaction_isolation");
        } else if t.is_kw(src, "READ")
            && toks
                .get(i + 1)
                .is_some_and(|n| n.is_kw(src, "ONLY") || n.is_kw(src, "WRITE"))
        {
            out.push("transaction_read_only");
        }
    }
    out
}

fn push_items(src: &[u8], toks: &[Token], out: &mut Vec<(VarScope, String)>) {
    for item in items(src, toks) {
        match item {
            Item::Assign(a) => out.push((a.scope, a.name)),
            Item::Names { character_set } => {
                let names: &[&str] = if character_set {
                    &[
                        "character_set_client",
                        "character_set_results",
                        "character_set_connection",
                        "collation_connection",
                    ]
                } else {
                    &[
                        "character_set_client",
                        "character_set_connection",
                        "character_set_results",
                        "collation_connection",
                    ]
                };
                out.extend(names.iter().map(|n| (VarScope::Session, n.to_string())));
            }
            Item::Other => {}
        }
    }
}
