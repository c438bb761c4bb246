//! SQL text analysis for the proxy: lexing, statement splitting,
//! classification and DML extraction.
//!
//! - [`lexer`]: a MySQL lexical scanner over bytes (never panics; offsets
//!   always refer to the caller's buffer). Executable comments `/*! ... */`,
//!   `/*!50100 ... */` and MariaDB `/*M! ... */` are treated as content.
//! - [`split_statements`]: splits a multi-statement COM_QUERY on top-level `;`.
//! - [`classify`] / [`classify_bytes`]: lexical classification of a statement
//!   into a coarse [`StatementKind`] and a precise [`Detail`] verb (works for
//!   any statement, parseable by `sqlparser` or not).
//! - [`parse_dml`]: structured information about INSERT/REPLACE/UPDATE/DELETE
//!   using `sqlparser` (MySQL dialect) for structure and the original text for
//!   every expression (never re-printed from the AST).
//!
//! Not modelled: the `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES` SQL modes, and
//! the version condition of `/*!NNNNN` comments (content is always assumed to
//! be executed). `DELIMITER` is a client-side command and is not handled.
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

pub mod classify;
mod ddl;
pub mod detail;
pub mod dml;
mod dml_tables;
mod dml_types;
mod kill;
pub mod lexer;
mod set;
mod source;

pub use classify::{classify, classify_bytes, split_statements, split_statements_bytes};
pub use detail::*;
pub use dml::{parse_dml, DmlError, DmlInfo, DmlVerb, TableRef, ValueExpr};

#[cfg(test)]
mod classify_tests;
#[cfg(test)]
mod classify_verb_tests;
#[cfg(test)]
mod dml_insert_tests;
#[cfg(test)]
mod dml_tests;
#[cfg(test)]
mod lexer_tests;
