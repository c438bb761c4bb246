//! Result types of [`classify`](super::classify()): the coarse
//! [`StatementKind`] and the precise [`Detail`] verb.

use std::ops::Range;

/// Coarse routing category of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    /// Reads data or metadata only (`SELECT`, `SHOW`, `EXPLAIN`, `DO`, ...).
    /// Locking reads and `SELECT ... INTO OUTFILE` are still `Read`; see the
    /// flags in [`Detail::Select`].
    Read,
    /// Writes rows (`INSERT`, `REPLACE`, `UPDATE`, `DELETE`, `LOAD DATA`,
    /// `CALL`, and `EXPLAIN ANALYZE`/`ANALYZE` of a DML statement).
    Dml,
    /// Changes schema objects (implicitly commits on the server).
    Ddl,
    /// Controls transaction boundaries or characteristics, including
    /// `SET autocommit`, `SET TRANSACTION`, `LOCK/UNLOCK TABLES` and `XA`.
    Transaction,
    /// Changes or uses per-connection state (`SET` of session variables,
    /// `SET NAMES`, `USE`, SQL-level `PREPARE/EXECUTE/DEALLOCATE`, `HANDLER`).
    Session,
    /// Server administration: `KILL`, account management, `FLUSH`, table
    /// maintenance, `SET GLOBAL`, replication control, ...
    Admin,
    /// Not recognised, or nothing to execute ([`Detail::Empty`]).
    Unsupported,
}

/// The classification of one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Classified {
    /// Coarse category.
    pub kind: StatementKind,
    /// Precise verb.
    pub detail: Detail,
    /// True when the input holds further non-empty statements after the
    /// classified (first) one; use [`split_statements`](super::split_statements)
    /// to classify each of them.
    pub multi_statement: bool,
    /// True when the input ended inside a string, quoted identifier or
    /// comment (the server will reject it).
    pub incomplete: bool,
}

/// What a `SELECT ... INTO` writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectInto {
    /// No `INTO` clause.
    None,
    /// `INTO @var, ...` (or stored-program variables).
    Variables,
    /// `INTO OUTFILE '...'` (writes a file on the server host).
    Outfile,
    /// `INTO DUMPFILE '...'` (writes a file on the server host).
    Dumpfile,
}

/// Scope of a variable a `SET` statement assigns
/// (see [`session_variables_set`](super::session_variables_set)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarScope {
    /// A session system variable (`x`, `SESSION x`, `LOCAL x`, `@@x`,
    /// `@@session.x`, and every variable of `SET STATEMENT ... FOR`).
    Session,
    /// A global system variable (`GLOBAL x`, `@@global.x`, `PERSIST x`, or a
    /// bare name after an earlier `GLOBAL` keyword in the same `SET`).
    Global,
    /// A user variable (`@x`).
    User,
}

/// Scope of a `SET TRANSACTION` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxScope {
    /// `SET TRANSACTION ...`: the next transaction only.
    Next,
    /// `SET SESSION TRANSACTION ...`.
    Session,
    /// `SET GLOBAL TRANSACTION ...`.
    Global,
}

/// `KILL CONNECTION` (the default) or `KILL QUERY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillKind {
    /// Terminates the connection.
    Connection,
    /// Terminates the running statement only.
    Query,
}

/// What a `KILL` statement targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KillTarget {
    /// A literal processlist (connection) id. `range` is the byte range of the
    /// number in the classified input, so a proxy can substitute just it.
    Id {
        /// The id.
        id: u64,
        /// Byte range of the digits.
        range: Range<usize>,
    },
    /// MariaDB `KILL QUERY ID <n>`: a query id, not a connection id.
    QueryId {
        /// The query id.
        id: u64,
        /// Byte range of the digits.
        range: Range<usize>,
    },
    /// MariaDB `KILL [..] USER <user>`; the user spec as written.
    User(String),
    /// Anything else (an expression, a variable, an out-of-range number).
    Expr,
}

/// `XA` sub-command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XaOp {
    /// `XA START|BEGIN`.
    Start,
    /// `XA END`.
    End,
    /// `XA PREPARE`.
    Prepare,
    /// `XA COMMIT`.
    Commit,
    /// `XA ROLLBACK`.
    Rollback,
    /// `XA RECOVER`.
    Recover,
    /// Anything else after `XA`.
    Other,
}

/// Account-management statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountOp {
    /// `GRANT`.
    Grant,
    /// `REVOKE`.
    Revoke,
    /// `CREATE USER`.
    CreateUser,
    /// `ALTER USER`.
    AlterUser,
    /// `DROP USER`.
    DropUser,
    /// `RENAME USER`.
    RenameUser,
    /// `CREATE ROLE`.
    CreateRole,
    /// `DROP ROLE`.
    DropRole,
    /// `SET PASSWORD`.
    SetPassword,
    /// `SET DEFAULT ROLE`.
    SetDefaultRole,
}

/// Table maintenance statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintenanceOp {
    /// `ANALYZE TABLE`.
    Analyze,
    /// `OPTIMIZE TABLE`.
    Optimize,
    /// `CHECK TABLE`.
    Check,
    /// `REPAIR TABLE`.
    Repair,
    /// `CHECKSUM TABLE`.
    Checksum,
}

/// Other administrative statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminOp {
    /// `RESET ...`.
    Reset,
    /// `PURGE BINARY|MASTER LOGS`.
    Purge,
    /// `CHANGE MASTER|REPLICATION ...`, `START|STOP SLAVE|REPLICA|GROUP_REPLICATION`.
    Replication,
    /// `SHUTDOWN`.
    Shutdown,
    /// `RESTART`.
    Restart,
    /// `INSTALL|UNINSTALL PLUGIN|COMPONENT`.
    Plugin,
    /// `CACHE INDEX`, `LOAD INDEX INTO CACHE`.
    KeyCache,
    /// `BINLOG '...'`.
    Binlog,
    /// `CLONE ...`.
    Clone,
    /// Anything else (`ALTER INSTANCE`, ...).
    Other,
}

/// The precise verb of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Detail {
    // ---- Read ----
    /// `SELECT`, `(SELECT ...) UNION ...`, `TABLE t`, `VALUES ROW(..)`.
    Select {
        /// `FOR UPDATE`, `FOR SHARE` or `LOCK IN SHARE MODE` anywhere.
        locking: bool,
        /// `INTO` target, if any.
        into: SelectInto,
    },
    /// `WITH ... SELECT` (read-only common table expression).
    With {
        /// As for [`Detail::Select`].
        locking: bool,
        /// As for [`Detail::Select`].
        into: SelectInto,
    },
    /// `SHOW ...`.
    Show,
    /// `SHOW GRPROXY STATUS`: answered by the proxy (group member state), not by mysqld.
    ProxyStatus,
    /// `SHOW GRPROXY MEMBERS [WHERE <condition>]`: answered by the proxy (every member as this
    /// one knows it), filtered by the client's condition.
    ProxyMembers,
    /// `GRPROXY ...`: a group administration command the proxy carries out itself
    /// (`frontend::group_admin`).
    ProxyCommand,
    /// `DESCRIBE t` / `DESC t` / `EXPLAIN t` (table description).
    Describe,
    /// `EXPLAIN <stmt>`; `analyze` for `EXPLAIN ANALYZE` / MariaDB
    /// `ANALYZE <stmt>`, which execute the statement (kind is then `Dml` when
    /// the explained statement is DML).
    Explain {
        /// The statement is executed.
        analyze: bool,
    },
    /// `HELP '...'`.
    Help,
    /// `DO expr`.
    Do,

    // ---- DML ----
    /// `INSERT` (any form, including `INSERT ... SELECT`).
    Insert,
    /// `REPLACE`.
    Replace,
    /// `UPDATE` (also `WITH ... UPDATE`).
    Update,
    /// `DELETE` (also `WITH ... DELETE`).
    Delete,
    /// `LOAD DATA` / `LOAD XML`.
    LoadData {
        /// `LOCAL`: the client sends the file (needs `LOCAL INFILE` handling).
        local: bool,
    },
    /// `CALL proc(...)`.
    Call,

    // ---- DDL ----
    /// `CREATE [TEMPORARY] TABLE`.
    CreateTable {
        /// `TEMPORARY`: session-scoped table.
        temporary: bool,
    },
    /// `ALTER TABLE`.
    AlterTable,
    /// `DROP [TEMPORARY] TABLE`, and `DROP TEMPORARY SEQUENCE` (a sequence
    /// is a table; neither temporary form commits implicitly).
    DropTable {
        /// `TEMPORARY`.
        temporary: bool,
    },
    /// `RENAME TABLE`.
    RenameTable,
    /// `TRUNCATE [TABLE]`.
    TruncateTable,
    /// `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX`.
    CreateIndex,
    /// `DROP INDEX`.
    DropIndex,
    /// `CREATE DATABASE|SCHEMA`.
    CreateDatabase,
    /// `DROP DATABASE|SCHEMA`.
    DropDatabase,
    /// `CREATE VIEW`.
    CreateView,
    /// `CREATE PROCEDURE|FUNCTION`.
    CreateRoutine,
    /// `CREATE TRIGGER`.
    CreateTrigger,
    /// Any other DDL (`ALTER DATABASE`, `DROP VIEW`, `CREATE EVENT`, ...).
    OtherDdl,

    // ---- Transaction ----
    /// `BEGIN [WORK]`, `START TRANSACTION [...]`.
    Begin {
        /// `READ ONLY` was given.
        read_only: bool,
        /// `WITH CONSISTENT SNAPSHOT` was given.
        consistent_snapshot: bool,
    },
    /// `COMMIT [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`.
    Commit {
        /// `AND CHAIN`: a new transaction starts at once.
        chain: bool,
        /// `RELEASE`: the server closes the connection.
        release: bool,
    },
    /// `ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`.
    Rollback {
        /// `AND CHAIN`.
        chain: bool,
        /// `RELEASE`.
        release: bool,
    },
    /// `ROLLBACK [WORK] TO [SAVEPOINT] name`.
    RollbackToSavepoint {
        /// Savepoint name (unquoted).
        name: String,
    },
    /// `SAVEPOINT name`.
    Savepoint {
        /// Savepoint name (unquoted).
        name: String,
    },
    /// `RELEASE SAVEPOINT name`.
    ReleaseSavepoint {
        /// Savepoint name (unquoted).
        name: String,
    },
    /// `SET autocommit = ...` (possibly among other assignments). `None` when
    /// the value is not a lexical constant (`SET autocommit = @x`).
    SetAutocommit(Option<bool>),
    /// `SET [GLOBAL|SESSION] TRANSACTION ...` (kind `Admin` when `GLOBAL`).
    SetTransaction {
        /// Which transactions it applies to.
        scope: TxScope,
    },
    /// `LOCK TABLES|TABLE ...`, `LOCK INSTANCE FOR BACKUP`.
    Lock,
    /// `UNLOCK TABLES|TABLE|INSTANCE`.
    Unlock,
    /// `XA ...`.
    Xa(XaOp),

    // ---- Session ----
    /// Other `SET` statements; `global` when any assignment is
    /// `GLOBAL`/`PERSIST`/`PERSIST_ONLY`/`@@global.` (kind is then `Admin`).
    SetVariables {
        /// Some assignment is server-wide.
        global: bool,
    },
    /// `SET NAMES`, `SET CHARACTER SET`, `SET CHARSET`.
    SetNames,
    /// `SET ROLE ...`.
    SetRole,
    /// `USE schema`; `schema` unquoted.
    Use {
        /// Schema name (unquoted).
        schema: String,
    },
    /// SQL-level `PREPARE name FROM ...`.
    Prepare,
    /// SQL-level `EXECUTE name [USING ...]`, and MariaDB's `EXECUTE IMMEDIATE
    /// <expr> [USING ...]` (dynamic SQL: the executed statement may be
    /// anything, including DML and DDL).
    Execute,
    /// `DEALLOCATE|DROP PREPARE name`.
    Deallocate,
    /// `HANDLER t OPEN|READ|CLOSE` (connection-bound cursor).
    Handler,

    // ---- Admin ----
    /// `KILL ...`.
    Kill {
        /// Connection or query.
        kind: KillKind,
        /// The target.
        target: KillTarget,
    },
    /// Account management.
    Account(AccountOp),
    /// `FLUSH ...`; `read_lock` for `FLUSH TABLES ... WITH READ LOCK` and
    /// `FOR EXPORT`, which leave locks held by the connection.
    Flush {
        /// Locks are held until `UNLOCK TABLES`.
        read_lock: bool,
    },
    /// `ANALYZE|OPTIMIZE|CHECK|REPAIR|CHECKSUM TABLE`.
    Maintenance(MaintenanceOp),
    /// Other administrative statements.
    Admin(AdminOp),

    // ---- Unsupported ----
    /// Only whitespace and comments.
    Empty,
    /// Not recognised.
    Unknown,
}

impl Detail {
    /// The default [`StatementKind`] of this verb. (The classifier overrides
    /// it in a few context-dependent cases, e.g. `EXPLAIN ANALYZE UPDATE`.)
    pub fn default_kind(&self) -> StatementKind {
        use Detail::*;
        match self {
            Select { .. }
            | With { .. }
            | Show
            | ProxyStatus
            | ProxyMembers
            | ProxyCommand
            | Describe
            | Explain { .. }
            | Help
            | Do => StatementKind::Read,
            Insert | Replace | Update | Delete | LoadData { .. } | Call => StatementKind::Dml,
            CreateTable { .. }
            | AlterTable
            | DropTable { .. }
            | RenameTable
            | TruncateTable
            | CreateIndex
            | DropIndex
            | CreateDatabase
            | DropDatabase
            | CreateView
            | CreateRoutine
            | CreateTrigger
            | OtherDdl => StatementKind::Ddl,
            Begin { .. }
            | Commit { .. }
            | Rollback { .. }
            | RollbackToSavepoint { .. }
            | Savepoint { .. }
            | ReleaseSavepoint { .. }
            | SetAutocommit(_)
            | SetTransaction {
                scope: TxScope::Next | TxScope::Session,
            }
            | Lock
            | Unlock
            | Xa(_) => StatementKind::Transaction,
            SetVariables { global: true } | SetTransaction { scope: TxScope::Global } => StatementKind::Admin,
            SetVariables { global: false }
            | SetNames
            | SetRole
            | Use { .. }
            | Prepare
            | Execute
            | Deallocate
            | Handler => StatementKind::Session,
            Kill { .. } | Account(_) | Flush { .. } | Maintenance(_) | Admin(_) => StatementKind::Admin,
            Empty | Unknown => StatementKind::Unsupported,
        }
    }
}
