//! Object-type detection for `CREATE` / `ALTER` / `DROP` / `RENAME`.
//!
//! The statement may carry modifiers before the object keyword (`OR REPLACE`,
//! `TEMPORARY`, `UNIQUE`, `ALGORITHM = ...`, `DEFINER = user`, `SQL SECURITY
//! ...`), so the first recognised object keyword within a few tokens decides.

use super::classify::upper;
use super::detail::{AccountOp, AdminOp, Detail};
use super::lexer::Cursor;

/// After `CREATE` / `ALTER` / `DROP` / `RENAME`: finds the object type,
/// skipping modifiers such as `OR REPLACE`, `TEMPORARY`, `DEFINER = ...`.
pub(super) fn ddl(verb: &str, mut c: Cursor<'_>) -> Detail {
    let src = c.src();
    let mut temporary = false;
    for _ in 0..16 {
        let Some(t) = c.peek() else { break };
        if t.is_punct(src, "(") {
            break;
        }
        let word = upper(src, Some(t));
        let detail = match (verb, word.as_str()) {
            (_, "TEMPORARY") => {
                temporary = true;
                None
            }
            ("CREATE", "SPATIAL") if !c.nth_is_kw(1, "INDEX") => Some(Detail::OtherDdl),
            ("CREATE", "TABLE") => Some(Detail::CreateTable { temporary }),
            ("DROP", "TABLE" | "TABLES") => Some(Detail::DropTable { temporary }),
            // A sequence is a table; the temporary one is session-local.
            ("DROP", "SEQUENCE") if temporary => Some(Detail::DropTable { temporary }),
            ("ALTER", "TABLE") => Some(Detail::AlterTable),
            ("RENAME", "TABLE" | "TABLES") => Some(Detail::RenameTable),
            ("CREATE", "INDEX") => Some(Detail::CreateIndex),
            ("DROP", "INDEX") => Some(Detail::DropIndex),
            ("CREATE", "DATABASE" | "SCHEMA") => Some(Detail::CreateDatabase),
            ("DROP", "DATABASE" | "SCHEMA") => Some(Detail::DropDatabase),
            ("CREATE", "VIEW") => Some(Detail::CreateView),
            ("CREATE", "PROCEDURE" | "FUNCTION" | "PACKAGE") => Some(Detail::CreateRoutine),
            ("CREATE", "TRIGGER") => Some(Detail::CreateTrigger),
            ("CREATE", "USER") => Some(Detail::Account(AccountOp::CreateUser)),
            ("ALTER", "USER") => Some(Detail::Account(AccountOp::AlterUser)),
            ("DROP", "USER") => Some(Detail::Account(AccountOp::DropUser)),
            ("RENAME", "USER") => Some(Detail::Account(AccountOp::RenameUser)),
            ("CREATE", "ROLE") => Some(Detail::Account(AccountOp::CreateRole)),
            ("DROP", "ROLE") => Some(Detail::Account(AccountOp::DropRole)),
            ("DROP", "PREPARE") => Some(Detail::Deallocate),
            ("ALTER", "INSTANCE") => Some(Detail::Admin(AdminOp::Other)),
            (
                "CREATE" | "ALTER" | "DROP",
                "VIEW" | "PROCEDURE" | "FUNCTION" | "PACKAGE" | "TRIGGER" | "EVENT" | "DATABASE" | "SCHEMA"
                | "TABLESPACE" | "SERVER" | "LOGFILE" | "SEQUENCE" | "UNDO" | "RESOURCE" | "SYNONYM",
            ) => Some(Detail::OtherDdl),
            _ => None,
        };
        if let Some(d) = detail {
            return d;
        }
        c.bump();
    }
    Detail::Unknown
}
