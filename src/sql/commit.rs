//! Which statements make the server commit the open transaction implicitly.
//!
//! Checked on MariaDB 10.11 for each statement below with `BEGIN; INSERT
//! ...; <stmt>; ROLLBACK` (the insert survives exactly when `<stmt>`
//! committed) and `SELECT @@in_transaction` after `<stmt>`. The commit
//! happens before the statement runs, so it also happens when the statement
//! then fails (`DROP TABLE missing`, `CREATE TABLE existing`).
//!
//! Commit: all DDL (`CREATE`/`ALTER`/`DROP`/`RENAME`/`TRUNCATE` of tables,
//! indexes, databases, views, procedures, functions, triggers, events,
//! sequences (also `CREATE TEMPORARY SEQUENCE`), servers), `ALTER`,
//! `TRUNCATE`, `RENAME`, `CREATE INDEX` and `ANALYZE TABLE` even on a
//! temporary table, and plain `DROP TABLE` of a temporary table; account
//! management (`CREATE`/`ALTER`/`DROP`/`RENAME USER`, `CREATE`/`DROP ROLE`,
//! `GRANT`, `REVOKE`, `SET PASSWORD`, `SET DEFAULT ROLE`); `ANALYZE`,
//! `OPTIMIZE`, `CHECK`, `REPAIR TABLE`; every `FLUSH`; `RESET` (`QUERY
//! CACHE`, `MASTER`, `SLAVE`); `INSTALL`/`UNINSTALL PLUGIN|SONAME`; `LOCK
//! TABLES`; `BEGIN` / `START TRANSACTION` (then open a new transaction);
//! `BACKUP STAGE` (classified [`Detail::Unknown`], so not reported here).
//!
//! No commit: `CREATE TEMPORARY TABLE` (also `... AS SELECT`), `DROP
//! TEMPORARY TABLE`, `DROP TEMPORARY SEQUENCE`, `CHECKSUM TABLE`, `ANALYZE
//! SELECT`, `CACHE INDEX`, `LOAD INDEX INTO CACHE`, `CHANGE MASTER`, `START
//! SLAVE` (`STOP SLAVE` is refused inside a transaction), `PURGE BINARY
//! LOGS`, `SET ROLE`, `SET` of variables (also `GLOBAL`), `SET NAMES`, `SET
//! SESSION TRANSACTION`, `SAVEPOINT`, `USE`, `PREPARE`, `DEALLOCATE`,
//! `HANDLER`, `KILL`, `XA RECOVER` (`XA START` is refused), `SHOW`,
//! `DESCRIBE`, `EXPLAIN`, `HELP`, `DO`, `SELECT` (also `FOR UPDATE`, `INTO
//! OUTFILE`, `NEXTVAL`), DML, `CALL`, `LOAD DATA`.
//!
//! Depends on session state, so the caller must decide:
//!
//! - `SET autocommit = 1` commits only when autocommit was 0 (inside `BEGIN`
//!   with autocommit already 1 it does not). Reported as committing, as is a
//!   non-constant value (`SET autocommit = @x`), which may be 1.
//! - `UNLOCK TABLES` commits only while `LOCK TABLES` locks are held.
//!   Reported as not committing.
//! - `EXECUTE stmt` / `EXECUTE IMMEDIATE '...'` commit when the executed
//!   statement does. Reported as not committing.

use super::detail::{AdminOp, Classified, Detail, MaintenanceOp};

/// True when the server commits the open transaction before running this
/// statement (see the module docs for the verified list and the
/// state-dependent cases).
pub fn commits_implicitly(c: &Classified) -> bool {
    use Detail::*;
    match &c.detail {
        CreateTable { temporary } | DropTable { temporary } => !temporary,
        AlterTable | RenameTable | TruncateTable | CreateIndex | DropIndex | CreateDatabase | DropDatabase
        | CreateView | CreateRoutine | CreateTrigger | OtherDdl => true,
        Account(_) | Flush { .. } => true,
        Maintenance(op) => *op != MaintenanceOp::Checksum,
        Admin(op) => matches!(op, AdminOp::Reset | AdminOp::Plugin),
        Begin { .. } | Lock => true,
        SetAutocommit(value) => *value != Some(false),
        _ => false,
    }
}
