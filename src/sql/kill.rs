//! `KILL [HARD|SOFT] [CONNECTION|QUERY [ID]] <id> | USER <user>`.

use super::detail::{Detail, KillKind, KillTarget};
use super::lexer::{Cursor, TokenKind};

/// After `KILL`.
pub(super) fn kill(mut c: Cursor<'_>) -> Detail {
    let src = c.src();
    if !c.eat_kw("HARD") {
        c.eat_kw("SOFT");
    }
    let kind = if c.eat_kw("QUERY") {
        KillKind::Query
    } else {
        c.eat_kw("CONNECTION");
        KillKind::Connection
    };
    let query_id = kind == KillKind::Query && c.peek_nth(1).is_some() && c.eat_kw("ID");
    if c.eat_kw("USER") {
        let rest = c.rest();
        return match (rest.first(), rest.last()) {
            (Some(a), Some(b)) => Detail::Kill {
                kind,
                target: KillTarget::User(String::from_utf8_lossy(&src[a.start..b.end]).into_owned()),
            },
            _ => Detail::Unknown,
        };
    }
    let target = match c.rest() {
        [] => return Detail::Unknown,
        [t] if t.kind == TokenKind::Number && t.text(src).iter().all(u8::is_ascii_digit) => {
            match std::str::from_utf8(t.text(src))
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(id) if query_id => KillTarget::QueryId { id, range: t.range() },
                Some(id) => KillTarget::Id { id, range: t.range() },
                None => KillTarget::Expr,
            }
        }
        _ => KillTarget::Expr,
    };
    Detail::Kill { kind, target }
}
