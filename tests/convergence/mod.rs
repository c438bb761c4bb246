//! The convergence suite's modules (see `tests/convergence.rs`).

#[macro_use]
pub mod harness;
pub mod cli;

pub mod s_ddl_admin;
pub mod s_images;
pub mod s_keys;
pub mod s_sequences;
pub mod s_session;
pub mod s_statements;
pub mod s_ties_lexer;
