//! The roles a `GRANT role TO ...` or `REVOKE [ADMIN OPTION FOR] role FROM ...` hands out or
//! takes back. mysqld runs such a statement only for an account holding the role WITH ADMIN
//! OPTION, which a member's applier account does not hold for roles clients created.

use super::lexer::{tokenize, unquote_ident, TokenKind};

/// The role names of a role grant or revoke, in order; empty for any other statement
/// (privilege grants name `ON`, `PROXY ON`, `ALL PRIVILEGES, GRANT OPTION`).
pub fn granted_roles(statement: &str) -> Vec<String> {
    let src = statement.as_bytes();
    let toks = tokenize(src).tokens;
    let (end_kw, mut i) = match toks.first() {
        Some(t) if t.is_kw(src, "GRANT") => ("TO", 1),
        Some(t) if t.is_kw(src, "REVOKE") => ("FROM", 1),
        _ => return Vec::new(),
    };
    if end_kw == "FROM"
        && toks.get(1).is_some_and(|t| t.is_kw(src, "ADMIN"))
        && toks.get(2).is_some_and(|t| t.is_kw(src, "OPTION"))
        && toks.get(3).is_some_and(|t| t.is_kw(src, "FOR"))
    {
        i = 4;
    }
    let mut roles = Vec::new();
    let mut expect_name = true;
    for t in &toks[i..] {
        if t.is_kw(src, end_kw) {
            return roles;
        }
        if expect_name {
            let name = match t.kind {
                TokenKind::Word
                    if !["ON", "PRIVILEGES", "OPTION", "PROXY", "ALL"]
                        .iter()
                        .any(|k| t.is_kw(src, k)) =>
                {
                    unquote_ident(t.text(src))
                }
                TokenKind::QuotedIdent => unquote_ident(t.text(src)),
                TokenKind::String => {
                    let s = String::from_utf8_lossy(t.text(src)).into_owned();
                    match s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                        Some(inner) => inner.replace("''", "'"),
                        None => return Vec::new(),
                    }
                }
                _ => return Vec::new(),
            };
            roles.push(name);
            expect_name = false;
        } else if t.is_punct(src, ",") {
            expect_name = true;
        } else {
            // `ALL PRIVILEGES`, `SELECT (col)`, ...: not a list of role names.
            return Vec::new();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::granted_roles;

    #[test]
    fn role_grants_and_revokes() {
        let cases: &[(&str, &[&str])] = &[
            ("GRANT r1 TO u1@'%'", &["r1"]),
            ("grant r2 to r1", &["r2"]),
            (
                "GRANT r1, `r 2`, 'r3' TO u1@localhost WITH ADMIN OPTION",
                &["r1", "r 2", "r3"],
            ),
            ("REVOKE r1 FROM u1@'%'", &["r1"]),
            ("REVOKE ADMIN OPTION FOR r1 FROM u1", &["r1"]),
            ("GRANT SELECT ON db.* TO u1", &[]),
            ("GRANT ALL PRIVILEGES ON *.* TO u1 WITH GRANT OPTION", &[]),
            ("GRANT ALL ON db.t TO u1", &[]),
            ("GRANT PROXY ON ''@'%' TO u1", &[]),
            ("REVOKE ALL PRIVILEGES, GRANT OPTION FROM u1", &[]),
            ("REVOKE SELECT ON db.* FROM u1", &[]),
            ("GRANT SELECT (a) ON db.t TO u1", &[]),
            ("CREATE ROLE r1", &[]),
            ("GRANT r1", &[]),
        ];
        for (sql, want) in cases {
            assert_eq!(
                granted_roles(sql),
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{sql}"
            );
        }
    }
}
