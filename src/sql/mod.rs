//! SQL text analysis for the proxy: lexing, statement splitting,
//! classification and DML extraction.
//!
//! - [`lexer`]: a MySQL lexical scanner over bytes (never panics; offsets
//!   always refer to the caller's buffer). Executable comments `/*! ... */`,
//!   `/*!50100 ... */` and MariaDB `/*M! ... */` are treated as content.
//! - [`split_statements`]: splits a multi-statement COM_QUERY on top-level `;`.
//! - [`classify()`] / [`classify_bytes`]: lexical classification of a statement
//!   into a coarse [`StatementKind`] and a precise [`Detail`] verb (works for
//!   any statement, parseable by `sqlparser` or not).
//! - [`parse_dml`]: structured information about INSERT/REPLACE/UPDATE/DELETE
//!   using `sqlparser` (MySQL dialect) for structure and the original text for
//!   every expression (never re-printed from the AST).
//! - [`read_may_write`] / [`read_writes_with`]: whether a statement filed
//!   as a read may still write (stored functions, sequences, `INTO OUTFILE`);
//!   built-in function names are in [`builtins`].
//! - [`session_variables_set`]: the variables a `SET` (or `SET STATEMENT ...
//!   FOR`) assigns, with their scope.
//! - [`qualified_schema_refs`]: schema names a statement names explicitly.
//! - [`commits_implicitly`]: whether the server commits the open transaction
//!   before a statement (verified statement by statement on MariaDB 10.11).
//!
//! Lexical modes: the `*_with` functions take [`LexOptions`]
//! (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES` and the multi-byte client
//! character sets gbk/big5/sjis/cp932/gb18030), which change where strings
//! and identifiers end and so where a multi-statement query splits; see
//! [`lexer`]. The functions without `_with` assume the server defaults (utf8
//! or another ASCII-safe character set, backslash escapes, `"` quotes
//! strings).
//!
//! Not modelled: the version condition of `/*!NNNNN` comments (content is
//! always assumed to be executed); `sql_mode=ORACLE` syntax beyond its
//! `ANSI_QUOTES` part; `IGNORE_SPACE` (it only changes which names are
//! functions, never token boundaries). `DELIMITER` is a client-side command
//! and is not handled. [`parse_dml`] always uses the default lexical mode.
//! Splitting leaves out statements that hold only whitespace and comments,
//! where the server (MariaDB 10.11) rejects an empty statement between two
//! `;` (`SELECT 1; ; SELECT 2` fails at the second) and answers a trailing
//! comment-only one (`SELECT 1; -- c`) with an extra OK packet.
//!
//! ```ignore
//! use crate::sql::{classify, parse_dml, Detail, StatementKind};
//!
//! let c = classify("/* app */ SET autocommit=0");
//! assert_eq!(c.kind, StatementKind::Transaction);
//! assert_eq!(c.detail, Detail::SetAutocommit(Some(false)));
//!
//! let dml = parse_dml("UPDATE t SET a='x;y' WHERE id IN (1,2)").unwrap();
//! assert_eq!(dml.where_clause.as_deref(), Some("id IN (1,2)"));
//! ```

pub mod builtins;
pub mod classify;
mod commit;
mod ddl;
pub mod detail;
pub mod dml;
mod dml_tables;
mod dml_types;
mod kill;
pub mod lexer;
mod maywrite;
pub mod role_grant;
mod schema_refs;
mod set;
mod source;
pub mod table_engine;

pub use classify::{
    classify, classify_bytes, classify_bytes_with, split_statements, split_statements_bytes,
    split_statements_bytes_with,
};
pub use commit::commits_implicitly;
pub use detail::*;
pub use dml::{parse_dml, DmlError, DmlInfo, DmlVerb, TableRef, ValueExpr};
pub use lexer::{LexCharset, LexOptions};
pub use maywrite::ReadWrites;

/// True when a statement the classifier files as a read (`SELECT`, `WITH`,
/// `DO`, `VALUES`, or a `SET` with a subquery) may still change data: it
/// calls a function that is not built in, uses a sequence (`NEXTVAL`,
/// `SETVAL`, `NEXT VALUE FOR`), or writes a server file (`INTO
/// OUTFILE|DUMPFILE`). Default lexical options; see [`read_writes_with`].
pub fn read_may_write(text: &[u8]) -> bool {
    read_writes_with(text, LexOptions::default()).any()
}

/// [`read_may_write`] under the session's lexical options.
pub fn read_may_write_with(text: &[u8], opts: LexOptions) -> bool {
    read_writes_with(text, opts).any()
}

/// What a statement filed as a read may write, itemised: the calls that may
/// run stored code, sequence use, and server-file output.
pub fn read_writes_with(text: &[u8], opts: LexOptions) -> ReadWrites {
    maywrite::read_writes(text, opts)
}

/// True when how `text` splits into tokens may depend on the session's `sql_mode`
/// (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`) or character set: it has a quote, a backslash or
/// a byte outside ASCII. Text without any lexes the same under every setting.
pub fn lexing_depends_on_settings(text: &[u8]) -> bool {
    text.iter()
        .any(|&b| matches!(b, b'\'' | b'"' | b'`' | b'\\') || !b.is_ascii())
}

/// The variables the `SET` statement at the start of `text` assigns, as
/// (scope, lowercased name) in order: system variables (`autocommit`,
/// `@@global.x`, `SESSION x`, bare names after a `GLOBAL` keyword are
/// global), user variables (`@x`, scope [`VarScope::User`]), the variables
/// `SET NAMES` / `SET CHARACTER SET` change, `transaction_isolation` /
/// `transaction_read_only` for `SET SESSION|GLOBAL TRANSACTION`, and the
/// variables of `SET STATEMENT ... FOR` (scope Session, followed by those of
/// an inner `SET`). Empty for any other statement, and for `SET
/// TRANSACTION` (next transaction only), `SET PASSWORD`, `SET ROLE`, `SET
/// DEFAULT ROLE`. Default lexical options.
pub fn session_variables_set(text: &[u8]) -> Vec<(VarScope, String)> {
    set::variables_set(text, LexOptions::default())
}

/// [`session_variables_set`] under the session's lexical options.
pub fn session_variables_set_with(text: &[u8], opts: LexOptions) -> Vec<(VarScope, String)> {
    set::variables_set(text, opts)
}

/// Schema names `text` names explicitly, lowercased and unquoted, each once:
/// the qualifier of every dotted name (`db.t`, `` `db`.`t` ``, `db . t`;
/// table qualifiers such as `t.c` are included too, as they look the same),
/// `USE db`, `CREATE|DROP|ALTER DATABASE|SCHEMA db`, and `SHOW ... FROM|IN
/// db`. Default lexical options.
pub fn qualified_schema_refs(text: &[u8]) -> Vec<String> {
    schema_refs::schema_refs(text, LexOptions::default())
}

/// [`qualified_schema_refs`] under the session's lexical options (with
/// `ANSI_QUOTES`, `"db"."t"` names a schema).
pub fn qualified_schema_refs_with(text: &[u8], opts: LexOptions) -> Vec<String> {
    schema_refs::schema_refs(text, opts)
}

#[cfg(test)]
mod classify_tests;
#[cfg(test)]
mod classify_verb_tests;
#[cfg(test)]
mod commit_tests;
#[cfg(test)]
mod dml_insert_tests;
#[cfg(test)]
mod dml_tests;
#[cfg(test)]
mod lexer_mode_tests;
#[cfg(test)]
mod lexer_tests;
#[cfg(test)]
mod maywrite_tests;
#[cfg(test)]
mod schema_refs_tests;
#[cfg(test)]
mod set_tests;
