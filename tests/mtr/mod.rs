//! Running MariaDB's own regression tests (mysql-test `main`, Debian package `mariadb-test`)
//! against a running server with `mariadb-test-run --extern`, one test at a time, and reading
//! back what mysql-test-run said about each: pass, fail, skipped, or (through a group member)
//! refused by grproxy with 3098.

pub mod config;
pub mod target;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where Debian's `mariadb-test` package puts mysql-test.
pub const MYSQL_TEST_DIR: &str = "/usr/share/mysql/mysql-test";

/// What mysql-test-run said about one test on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The first line of mysqltest's complaint (the full output is in the log file).
    Fail(String),
    Skipped(String),
    /// Through a group member: a statement was refused with 3098 (the reason is grproxy's).
    Refused(String),
    /// Through a group member: the test passed or was refused, but the members differ after it.
    Diverged(String),
    /// mysql-test-run did not report on the test (timeout, could not connect, server died).
    Error(String),
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "FAIL",
            Verdict::Skipped(_) => "skip",
            Verdict::Refused(_) => "refused",
            Verdict::Diverged(_) => "DIVERGED",
            Verdict::Error(_) => "ERROR",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Verdict::Pass => "",
            Verdict::Fail(s) | Verdict::Skipped(s) | Verdict::Refused(s) | Verdict::Diverged(s) | Verdict::Error(s) => {
                s
            }
        }
    }
}

/// How to reach a server: TCP port for the default connection, unix socket for the tests'
/// `connect (c,localhost,...)`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub port: u16,
    pub socket: PathBuf,
}

/// The `mariadb-test-run` script, or a panic that says how to install it.
pub fn mtr_script() -> PathBuf {
    let p = Path::new(MYSQL_TEST_DIR).join("mariadb-test-run");
    assert!(
        p.is_file(),
        "{} not found: run deploy/install-deps.sh --mtr (Debian package mariadb-test)",
        p.display()
    );
    p
}

/// Runs `main.<test>` against `ep` with `vardir` as mysql-test-run's scratch directory and
/// keeps its whole output in `log`.
pub async fn run_one(test: &str, ep: &Endpoint, vardir: &Path, log: &Path, timeout: Duration) -> (Verdict, Duration) {
    use std::os::unix::process::CommandExt as _;
    let started = Instant::now();
    let mut cmd = std::process::Command::new(mtr_script());
    cmd.current_dir(MYSQL_TEST_DIR)
        .arg("--extern")
        .arg("host=127.0.0.1")
        .arg("--extern")
        .arg(format!("port={}", ep.port))
        .arg("--extern")
        .arg(format!("socket={}", ep.socket.display()))
        .arg("--extern")
        .arg("user=root")
        .arg(format!("--vardir={}", vardir.display()))
        .arg("--retry=0")
        .arg("--max-test-fail=0")
        .arg("--testcase-timeout=2")
        .arg(format!("main.{test}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Its own process group, so a timeout takes mysqltest and its helpers down too.
        .process_group(0);
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mariadb-test-run");
    let pid = child.id();
    let out = tokio::time::timeout(timeout, async {
        use tokio::io::AsyncReadExt;
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let _ = tokio::join!(stdout.read_to_end(&mut a), stderr.read_to_end(&mut b));
        let _ = child.wait().await;
        a.extend_from_slice(&b);
        a
    })
    .await;
    let elapsed = started.elapsed();
    let text = match out {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => {
            if let Some(pid) = pid {
                let _ = std::process::Command::new("kill")
                    .arg("-KILL")
                    .arg(format!("-{pid}"))
                    .status();
            }
            let _ = std::fs::write(log, "timed out\n");
            return (
                Verdict::Error(format!("timed out after {} s", timeout.as_secs())),
                elapsed,
            );
        }
    };
    let _ = std::fs::write(log, &text);
    (parse_report(test, &text), elapsed)
}

/// Reads mysql-test-run's line for `main.<test>` and what follows it.
pub fn parse_report(test: &str, text: &str) -> Verdict {
    let name = format!("main.{test}");
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines
        .iter()
        .position(|l| l.split_whitespace().next() == Some(name.as_str()) && l.contains("[ "))
    else {
        let last = lines
            .iter()
            .rev()
            .find(|l| l.contains("ERROR") || l.contains("rror"))
            .or(lines.last())
            .copied()
            .unwrap_or("no output");
        return Verdict::Error(last.trim().to_string());
    };
    let line = lines[at];
    let word = line
        .split("[ ")
        .nth(1)
        .and_then(|r| r.split(" ]").next())
        .unwrap_or("")
        .trim();
    match word {
        "pass" => Verdict::Pass,
        "skipped" | "disabled" => Verdict::Skipped(line.split(" ]").nth(1).unwrap_or("").trim().to_string()),
        _ => {
            let body = &lines[at + 1..];
            // mysqltest's own error, the mariadb client's (a test that runs it with --exec), or
            // the error in the result diff of a statement the test expected to succeed.
            if let Some(refused) = body.iter().find(|l| {
                l.contains("(3098)")
                    || l.contains("3098:")
                    || l.contains("ERROR 3098 (")
                    || l.contains("grproxy cannot replicate this statement")
            }) {
                return Verdict::Refused(refusal_reason(refused));
            }
            // A result difference: the first changed line of the diff.
            if let Some(hunk) = body.iter().position(|l| l.starts_with("@@")) {
                if let Some(l) = body[hunk..].iter().find(|l| l.starts_with('-') || l.starts_with('+')) {
                    return Verdict::Fail(format!("result differs: {}", l.chars().take(150).collect::<String>()));
                }
            }
            let first = body
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("Test ended at") && !l.starts_with("- saving"))
                .unwrap_or("");
            Verdict::Fail(first.chars().take(160).collect())
        }
    }
}

/// grproxy's reason in a mysqltest error line: the text after "cannot replicate this statement: ".
fn refusal_reason(line: &str) -> String {
    let l = line.trim();
    match l.find("cannot replicate this statement: ") {
        Some(i) => l[i + "cannot replicate this statement: ".len()..].to_string(),
        None => l.to_string(),
    }
}

/// The tests of a list file: one name per line; `#` starts a comment.
pub fn read_list(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Known differences: `test  # reason` per line.
pub fn read_known(path: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (name, reason) = l.split_once('#').unwrap_or((l, ""));
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_string(), reason.trim().to_string()))
        })
        .collect()
}

/// The side-by-side table: one row per test, one column per target.
pub fn table(targets: &[&str], rows: &[(String, Vec<(Verdict, Duration)>)]) -> String {
    use std::fmt::Write as _;
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let mut s = String::new();
    let _ = write!(s, "{:width$}", "test");
    for t in targets {
        let _ = write!(s, " | {t:>12}");
    }
    s.push('\n');
    for (name, cells) in rows {
        let _ = write!(s, "{name:width$}");
        for (v, d) in cells {
            let _ = write!(s, " | {:>7} {:>4.1}", v.word(), d.as_secs_f64());
        }
        for (t, (v, _)) in targets.iter().zip(cells) {
            if !matches!(v, Verdict::Pass) && !v.detail().is_empty() {
                let _ = write!(s, "\n    {t}: {}", v.detail());
            }
        }
        s.push('\n');
    }
    let _ = write!(s, "{:width$}", "totals");
    for i in 0..targets.len() {
        let count = |f: fn(&Verdict) -> bool| rows.iter().filter(|r| r.1.get(i).is_some_and(|c| f(&c.0))).count();
        let pass = count(|v| matches!(v, Verdict::Pass));
        let refused = count(|v| matches!(v, Verdict::Refused(_)));
        let skipped = count(|v| matches!(v, Verdict::Skipped(_)));
        let other = rows.len() - pass - refused - skipped;
        let _ = write!(s, " | {pass} pass, {refused} refused, {skipped} skip, {other} fail");
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_read() {
        let pass = "worker[01] x\nmain.sp-row                              [ pass ]    534\n----";
        assert_eq!(parse_report("sp-row", pass), Verdict::Pass);
        let skip = "main.alter_table-big                     [ skipped ]  Need big tables\n";
        assert_eq!(
            parse_report("alter_table-big", skip),
            Verdict::Skipped("Need big tables".into())
        );
        let fail = "main.analyze                             [ fail ]\n        Test ended at 2026-12-04 07:46:37\n\nmysqltest: At line 21: query 'create table t1 (a bigint)' failed: ER_TABLE_EXISTS_ERROR (1050): Table 't1' already exists\n";
        assert!(matches!(parse_report("analyze", fail), Verdict::Fail(s) if s.contains("1050")));
        let refused = "main.x  [ fail ]\n\nmysqltest: At line 3: query 'insert into t1 values (1)' failed: <Unknown> (3098): grproxy cannot replicate this statement: table `test`.`t1` is not InnoDB\n";
        assert_eq!(
            parse_report("x", refused),
            Verdict::Refused("table `test`.`t1` is not InnoDB".into())
        );
        let by_client = "main.z  [ fail ]\n\nERROR 3098 (HY000) at line 2: grproxy cannot replicate this statement: table test.tb uses engine MyISAM; grproxy replicates only InnoDB tables\n";
        assert_eq!(
            parse_report("z", by_client),
            Verdict::Refused("table test.tb uses engine MyISAM; grproxy replicates only InnoDB tables".into())
        );
        let in_diff = "main.w  [ fail ]\n\n--- a.result\n+++ a.reject\n@@ -1,2 +1,2 @@\n+ERROR HY000: grproxy cannot replicate this statement: table test.t2 uses engine MyISAM\n";
        assert_eq!(
            parse_report("w", in_diff),
            Verdict::Refused("table test.t2 uses engine MyISAM".into())
        );
        assert!(matches!(parse_report("y", "Could not connect"), Verdict::Error(_)));
        let diff = "main.type_json  [ fail ]\n\n--- a.result\n+++ a.reject\n@@ -113,16 +113,16 @@\n ) CHARACTER SET utf8;\n-def\tjs0\t252 (format=json)\n+def\tjs0\t252\n";
        assert_eq!(
            parse_report("type_json", diff),
            Verdict::Fail("result differs: -def\tjs0\t252 (format=json)".into())
        );
    }
}
