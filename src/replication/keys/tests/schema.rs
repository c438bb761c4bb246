//! The tables of the row-event fixtures (`binlog/fixtures.rs`), captured from MariaDB 10.11
//! with this schema (database `fx`):
//!
//! ```sql
//! CREATE TABLE t_int (id INT PRIMARY KEY, u INT UNSIGNED, big BIGINT UNSIGNED, tiny TINYINT,
//!   v VARCHAR(20), UNIQUE KEY uk_u (u), UNIQUE KEY uk_big (big), UNIQUE KEY uk_tiny (tiny));
//! CREATE TABLE t_comp (a INT, b VARCHAR(10) COLLATE utf8mb4_bin, c INT NULL, d INT NULL,
//!   PRIMARY KEY (a, b), UNIQUE KEY uk_cd (c, d));
//! CREATE TABLE t_ci (id INT PRIMARY KEY, name VARCHAR(20) CHARACTER SET utf8mb4
//!   COLLATE utf8mb4_general_ci, UNIQUE KEY uk_name (name));
//! CREATE TABLE t_prefix (id INT PRIMARY KEY, body TEXT CHARACTER SET latin1, bin VARBINARY(50),
//!   UNIQUE KEY uk_body (body(4)), UNIQUE KEY uk_bin (bin(3)));
//! CREATE TABLE parent (id INT PRIMARY KEY, code VARCHAR(10) CHARACTER SET utf8mb4
//!   COLLATE utf8mb4_general_ci NOT NULL, UNIQUE KEY uk_code (code));
//! CREATE TABLE child (id INT PRIMARY KEY, pid INT, pcode VARCHAR(10) CHARACTER SET utf8mb4
//!   COLLATE utf8mb4_general_ci, CONSTRAINT fk_pid FOREIGN KEY (pid) REFERENCES parent (id),
//!   CONSTRAINT fk_code FOREIGN KEY (pcode) REFERENCES parent (code));
//! CREATE TABLE t_dec (d DECIMAL(10,2) PRIMARY KEY, n DECIMAL(20,0), UNIQUE KEY uk_n (n));
//! CREATE TABLE t_time (dt DATETIME(3) PRIMARY KEY, ts TIMESTAMP(6) NULL, d DATE, tm TIME(2),
//!   y YEAR, UNIQUE KEY uk_ts (ts), UNIQUE KEY uk_rest (d, tm, y));
//! CREATE TABLE t_virt (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL,
//!   s INT AS (a + 1) STORED, UNIQUE KEY uk_v (v), UNIQUE KEY uk_s (s));
//! CREATE TABLE t_enum (e ENUM('x','y','z') PRIMARY KEY, st SET('r','g','b'), UNIQUE KEY uk_st (st));
//! CREATE TABLE t_float (id INT PRIMARY KEY, f FLOAT, g DOUBLE, UNIQUE KEY uk_f (f), UNIQUE KEY uk_g (g));
//! CREATE TABLE t_bin (b BINARY(4) PRIMARY KEY, bits BIT(10), ch CHAR(5) CHARACTER SET latin1,
//!   UNIQUE KEY uk_bits (bits), UNIQUE KEY uk_ch (ch));
//! CREATE TABLE t_long (id INT PRIMARY KEY, body TEXT, t2 VARCHAR(300) CHARACTER SET utf8mb4
//!   COLLATE utf8mb4_general_ci, UNIQUE KEY uk_body (body), UNIQUE KEY uk_t2 (t2));
//! ```
//!
//! (server default character set latin1). The metadata below is what `MetadataCache` loaded
//! for these tables from that server.

use std::sync::Arc;

use crate::replication::binlog::fixtures::unhex;
use crate::replication::keys::{WeighRequest, Weigher};
use crate::replication::metadata::{Column, ForeignKey, Key, TableMeta};

pub(super) fn int(name: &str, ty: &str) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        ..Column::default()
    }
}

pub(super) fn unsigned(name: &str, ty: &str) -> Column {
    Column {
        unsigned: true,
        ..int(name, ty)
    }
}

fn string(name: &str, ty: &str, collation: &str) -> Column {
    Column {
        charset: Some(collation.split('_').next().unwrap().into()),
        collation: Some(collation.into()),
        ..int(name, ty)
    }
}

fn key(name: &str, columns: &[usize]) -> Key {
    Key {
        name: name.into(),
        columns: columns.to_vec(),
        ..Key::default()
    }
}

fn table(name: &str, columns: Vec<Column>, primary: &[usize], uniques: Vec<Key>) -> TableMeta {
    TableMeta {
        schema: "fx".into(),
        table: name.into(),
        columns,
        primary: Some(key("PRIMARY", primary)),
        uniques,
        engine: "InnoDB".into(),
        ..TableMeta::default()
    }
}

fn fk(name: &str, column: usize, parent_index: &str) -> ForeignKey {
    ForeignKey {
        name: name.into(),
        columns: vec![column],
        parent_schema: "fx".into(),
        parent_table: "parent".into(),
        parent_index: parent_index.into(),
        cascades: false,
        parent_unique: true,
    }
}

pub(super) fn schema() -> Vec<Arc<TableMeta>> {
    let gci = "utf8mb4_general_ci";
    let swe = "latin1_swedish_ci";
    let mut child = table(
        "child",
        vec![int("id", "int"), int("pid", "int"), string("pcode", "varchar", gci)],
        &[0],
        vec![],
    );
    child.foreign_keys = vec![fk("fk_code", 2, "uk_code"), fk("fk_pid", 1, "PRIMARY")];
    let virt = |name: &str, stored: bool| Column {
        generated: true,
        virtual_generated: !stored,
        ..int(name, "int")
    };
    let tables = vec![
        table(
            "t_int",
            vec![
                int("id", "int"),
                unsigned("u", "int"),
                unsigned("big", "bigint"),
                int("tiny", "tinyint"),
                string("v", "varchar", swe),
            ],
            &[0],
            vec![key("uk_big", &[2]), key("uk_tiny", &[3]), key("uk_u", &[1])],
        ),
        table(
            "t_comp",
            vec![
                int("a", "int"),
                string("b", "varchar", "utf8mb4_bin"),
                int("c", "int"),
                int("d", "int"),
            ],
            &[0, 1],
            vec![key("uk_cd", &[2, 3])],
        ),
        table(
            "t_ci",
            vec![int("id", "int"), string("name", "varchar", gci)],
            &[0],
            vec![key("uk_name", &[1])],
        ),
        table(
            "t_prefix",
            vec![int("id", "int"), string("body", "text", swe), int("bin", "varbinary")],
            &[0],
            vec![
                Key {
                    prefixes: vec![Some(3)],
                    ..key("uk_bin", &[2])
                },
                Key {
                    prefixes: vec![Some(4)],
                    ..key("uk_body", &[1])
                },
            ],
        ),
        table(
            "parent",
            vec![int("id", "int"), string("code", "varchar", gci)],
            &[0],
            vec![key("uk_code", &[1])],
        ),
        child,
        table(
            "t_dec",
            vec![int("d", "decimal"), int("n", "decimal")],
            &[0],
            vec![key("uk_n", &[1])],
        ),
        table(
            "t_time",
            vec![
                int("dt", "datetime"),
                int("ts", "timestamp"),
                int("d", "date"),
                int("tm", "time"),
                int("y", "year"),
            ],
            &[0],
            vec![key("uk_rest", &[2, 3, 4]), key("uk_ts", &[1])],
        ),
        table(
            "t_virt",
            vec![int("id", "int"), int("a", "int"), virt("v", false), virt("s", true)],
            &[0],
            vec![key("uk_s", &[3]), key("uk_v", &[2])],
        ),
        table(
            "t_enum",
            vec![string("e", "enum", swe), string("st", "set", swe)],
            &[0],
            vec![key("uk_st", &[1])],
        ),
        table(
            "t_float",
            vec![int("id", "int"), int("f", "float"), int("g", "double")],
            &[0],
            vec![key("uk_f", &[1]), key("uk_g", &[2])],
        ),
        table(
            "t_bin",
            vec![int("b", "binary"), int("bits", "bit"), string("ch", "char", swe)],
            &[0],
            vec![key("uk_bits", &[1]), key("uk_ch", &[2])],
        ),
        table(
            "t_long",
            vec![
                int("id", "int"),
                string("body", "text", swe),
                string("t2", "varchar", gci),
            ],
            &[0],
            vec![
                key("uk_t2", &[2]),
                Key {
                    long_hash: true,
                    ..key("uk_body", &[1])
                },
            ],
        ),
    ];
    tables.into_iter().map(Arc::new).collect()
}

/// Weights mysqld computed for the fixtures' string key parts with [`weigh_sql`]:
/// (value, collation, prefix, weight), all PAD SPACE.
pub(super) const SERVER_WEIGHTS: &[(&str, &str, Option<u32>, &str)] = &[
    ("6b", "utf8mb4_bin", None, "00006b"),
    ("4b", "utf8mb4_bin", None, "00004b"),
    ("7a", "utf8mb4_bin", None, "00007a"),
    ("61", "utf8mb4_general_ci", None, "0041"),
    ("c38420", "utf8mb4_general_ci", None, "0041"),
    ("6162636465666768", "latin1_swedish_ci", Some(4), "41424344"),
    ("4142435a2020", "latin1_swedish_ci", Some(4), "4142435a"),
    ("7031", "utf8mb4_general_ci", None, "00500031"),
    ("5032", "utf8mb4_general_ci", None, "00500032"),
    ("5031", "utf8mb4_general_ci", None, "00500031"),
    ("7032", "utf8mb4_general_ci", None, "00500032"),
    ("6162", "latin1_swedish_ci", None, "4142"),
    ("416263", "latin1_swedish_ci", None, "414243"),
    ("782079", "latin1_swedish_ci", None, "582059"),
    ("53747261c39f65", "utf8mb4_general_ci", None, "005300540052004100530045"),
];

/// Answers with the weights the server gave (fails on a request it never saw).
pub(super) struct ServerWeights;

impl Weigher for ServerWeights {
    async fn weigh(&self, parts: Vec<WeighRequest>) -> Result<Vec<Vec<u8>>, String> {
        parts
            .iter()
            .map(|p| {
                let hex: String = p.bytes.iter().map(|b| format!("{b:02x}")).collect();
                SERVER_WEIGHTS
                    .iter()
                    .find(|w| w.0 == hex && w.1 == p.collation && w.2 == p.prefix_chars && p.pad_space)
                    .map(|w| unhex(w.3))
                    .ok_or(format!("no recorded weight for {p:?}"))
            })
            .collect()
    }
}
