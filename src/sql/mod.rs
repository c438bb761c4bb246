//! SQL text analysis for the proxy.
pub mod classify;
pub mod detail;
pub mod dml;
mod dml_tables;
pub mod lexer;
mod set;
mod source;

pub use classify::{classify, classify_bytes, split_statements, split_statements_bytes};
pub use detail::*;
pub use dml::{parse_dml, DmlError, DmlInfo, DmlVerb, TableRef, ValueExpr};
