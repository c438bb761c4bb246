//! The clients users come in with, as subprocesses: the `mariadb` CLI (`-e` and a script on
//! stdin) and PyMySQL (`python3 -c`). Each run is a fresh connection; the result is the exit
//! status, stdout, stderr and the `ERROR <code> (<sqlstate>)` lines the client printed.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// How long one client process may run before it is killed (and the run counts as failed).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(40);

/// What a client process did.
#[derive(Debug, Clone, Default)]
pub struct Out {
    /// Exit code (`None`: killed by a signal or timed out).
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Every `ERROR <code> (<sqlstate>)` the client printed, in order.
    pub errors: Vec<ClientErr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientErr {
    pub code: u16,
    pub sqlstate: String,
    /// The script line the CLI names (`at line N`), when it does.
    pub line: Option<u32>,
    pub message: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.status == Some(0) && self.errors.is_empty()
    }

    /// The first error's code.
    pub fn code(&self) -> Option<u16> {
        self.errors.first().map(|e| e.code)
    }

    /// Non-empty stdout lines (the CLI runs with `--batch --skip-column-names`: one line a row,
    /// tab-separated).
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A short description for failure messages.
    pub fn describe(&self) -> String {
        let cut = |s: &str| {
            if s.len() > 1500 {
                let mut end = 1500;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}...[{} bytes]", &s[..end], s.len())
            } else {
                s.to_string()
            }
        };
        format!(
            "exit {:?}; stdout: {:?}; stderr: {:?}",
            self.status,
            cut(&self.stdout),
            cut(self.stderr.trim_end())
        )
    }
}

/// Parses `ERROR 1062 (23000) at line 1: Duplicate entry ...` (the CLI's stderr) and
/// `ERR\t1062\t23000\tmessage` (the PyMySQL runner's stdout) lines.
pub fn parse_errors(text: &str) -> Vec<ClientErr> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ERR\t") {
            let mut parts = rest.splitn(3, '\t');
            let code = parts.next().and_then(|c| c.parse().ok());
            let state = parts.next().unwrap_or("").to_string();
            let message = parts.next().unwrap_or("").to_string();
            if let Some(code) = code {
                out.push(ClientErr {
                    code,
                    sqlstate: state,
                    line: None,
                    message,
                });
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("ERROR ") else {
            continue;
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Ok(code) = digits.parse::<u16>() else { continue };
        let rest = &rest[digits.len()..];
        let (sqlstate, rest) = match rest.strip_prefix(" (") {
            Some(r) if r.len() >= 6 && r.as_bytes()[5] == b')' => (r[..5].to_string(), &r[6..]),
            _ => (String::new(), rest),
        };
        let (head, message) = match rest.find(": ") {
            Some(i) => (&rest[..i], rest[i + 2..].to_string()),
            None => (rest, String::new()),
        };
        let line_no = head.trim().strip_prefix("at line ").and_then(|n| n.trim().parse().ok());
        out.push(ClientErr {
            code,
            sqlstate,
            line: line_no,
            message,
        });
    }
    out
}

/// One run of the `mariadb` CLI.
#[derive(Debug, Clone)]
pub struct Cli {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: Option<String>,
    /// `--default-character-set` (utf8mb4 unless a scenario picks another: the CLI's own
    /// default follows the locale).
    pub charset: String,
    /// Extra options (`--default-character-set=latin1`, `--force`, ...).
    pub args: Vec<OsString>,
    /// `-e <bytes>` (raw bytes: a gbk or latin1 statement is passed as the user typed it).
    pub execute: Option<Vec<u8>>,
    /// A script on stdin.
    pub stdin: Option<Vec<u8>>,
}

impl Cli {
    pub fn new(port: u16) -> Cli {
        Cli {
            port,
            user: "root".into(),
            password: String::new(),
            database: None,
            charset: "utf8mb4".into(),
            args: Vec::new(),
            execute: None,
            stdin: None,
        }
    }

    pub fn user(mut self, user: &str, password: &str) -> Cli {
        self.user = user.into();
        self.password = password.into();
        self
    }

    pub fn database(mut self, db: &str) -> Cli {
        self.database = Some(db.into());
        self
    }

    pub fn charset(mut self, charset: &str) -> Cli {
        self.charset = charset.into();
        self
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Cli {
        self.args.push(a.into());
        self
    }

    pub fn execute(mut self, sql: impl Into<Vec<u8>>) -> Cli {
        self.execute = Some(sql.into());
        self
    }

    pub fn stdin(mut self, script: impl Into<Vec<u8>>) -> Cli {
        self.stdin = Some(script.into());
        self
    }

    /// The command line as a user would type it (for failure messages).
    pub fn describe(&self) -> String {
        let mut s = format!("mariadb -h127.0.0.1 -P{} -u{} --protocol=TCP", self.port, self.user);
        if let Some(db) = &self.database {
            s.push_str(&format!(" -D{db}"));
        }
        s.push_str(&format!(" --default-character-set={}", self.charset));
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        if let Some(e) = &self.execute {
            s.push_str(&format!(" -e {:?}", String::from_utf8_lossy(e)));
        }
        if let Some(i) = &self.stdin {
            s.push_str(&format!(" <<'EOF'\n{}\nEOF", String::from_utf8_lossy(i).trim_end()));
        }
        s
    }

    pub async fn run(&self) -> Out {
        let program = crate::common::program(&["mariadb", "mysql"]);
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("--no-defaults")
            .arg("-h127.0.0.1")
            .arg(format!("-P{}", self.port))
            .arg(format!("-u{}", self.user))
            .arg("--protocol=TCP")
            .arg("--skip-ssl")
            .arg("--batch")
            .arg("--skip-column-names")
            .arg("--connect-timeout=10");
        if !self.password.is_empty() {
            cmd.arg(format!("-p{}", self.password));
        }
        if let Some(db) = &self.database {
            cmd.arg(format!("-D{db}"));
        }
        cmd.arg(format!("--default-character-set={}", self.charset));
        cmd.args(&self.args);
        if let Some(e) = &self.execute {
            cmd.arg("-e").arg(OsString::from_vec(e.clone()));
        }
        run_process(cmd, self.stdin.clone(), false).await
    }
}

/// Runs a client; `runner_output`: stdout holds the PyMySQL runner's `ERR` lines.
async fn run_process(mut cmd: tokio::process::Command, input: Option<Vec<u8>>, runner_output: bool) -> Out {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Out {
                status: None,
                stderr: format!("cannot start {cmd:?}: {e}"),
                ..Out::default()
            }
        }
    };
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        // The client may exit early (an error without --force); a broken pipe is fine.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    match tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(o)) => {
            let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let mut errors = parse_errors(&stderr);
            if runner_output {
                errors.extend(parse_errors(&stdout));
            }
            Out {
                status: o.status.code(),
                stdout,
                stderr,
                errors,
            }
        }
        Ok(Err(e)) => Out {
            status: None,
            stderr: format!("waiting for the client: {e}"),
            ..Out::default()
        },
        Err(_) => Out {
            status: None,
            stderr: format!("client timed out after {CLIENT_TIMEOUT:?}"),
            ..Out::default()
        },
    }
}

/// How a PyMySQL run ends after its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyEnd {
    Commit,
    Rollback,
    /// Close the connection without COMMIT or ROLLBACK.
    Close,
}

/// One PyMySQL connection running `statements` in order (each error is printed and the run
/// goes on), then `end`. `autocommit`: `None` keeps PyMySQL's default (off).
#[derive(Debug, Clone)]
pub struct Py {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub charset: String,
    pub autocommit: Option<bool>,
    pub multi_statements: bool,
    pub statements: Vec<String>,
    pub end: PyEnd,
}

const PY_RUNNER: &str = r#"
import sys
import pymysql
from pymysql.constants import CLIENT
port, user, password, db, charset, autocommit, multi, end = sys.argv[1:9]
stmts = sys.argv[9:]
flags = CLIENT.MULTI_STATEMENTS if multi == "1" else 0
kw = dict(host="127.0.0.1", port=int(port), user=user, password=password, database=db,
          charset=charset, client_flag=flags)
if autocommit != "-":
    kw["autocommit"] = autocommit == "1"
conn = pymysql.connect(**kw)
cur = conn.cursor()
for s in stmts:
    try:
        n = cur.execute(s)
        rows = list(cur.fetchall() or [])
        while cur.nextset():
            rows += list(cur.fetchall() or [])
        print("OK\t%s\t%s\t%r" % (n, cur.lastrowid, rows))
    except pymysql.MySQLError as e:
        code = e.args[0] if e.args else 0
        msg = e.args[1] if len(e.args) > 1 else ""
        print("ERR\t%s\t-----\t%s" % (code, str(msg).replace("\n", " ")))
    sys.stdout.flush()
try:
    if end == "commit":
        conn.commit()
        print("COMMITTED")
    elif end == "rollback":
        conn.rollback()
        print("ROLLED BACK")
except pymysql.MySQLError as e:
    print("ERR\t%s\t-----\t%s" % (e.args[0], str(e.args[1]).replace("\n", " ")))
conn.close()
"#;

impl Py {
    pub fn new(port: u16, database: &str) -> Py {
        Py {
            port,
            user: "root".into(),
            password: String::new(),
            database: database.into(),
            charset: "utf8mb4".into(),
            autocommit: None,
            multi_statements: false,
            statements: Vec::new(),
            end: PyEnd::Commit,
        }
    }

    pub fn statement(mut self, sql: &str) -> Py {
        self.statements.push(sql.into());
        self
    }

    pub fn describe(&self) -> String {
        format!(
            "PyMySQL port {} db {} charset {} autocommit {:?} multi {} end {:?}: {:?}",
            self.port, self.database, self.charset, self.autocommit, self.multi_statements, self.end, self.statements
        )
    }

    pub async fn run(&self) -> Out {
        let mut cmd = tokio::process::Command::new("python3");
        cmd.arg("-c")
            .arg(PY_RUNNER)
            .arg(self.port.to_string())
            .arg(&self.user)
            .arg(&self.password)
            .arg(&self.database)
            .arg(&self.charset)
            .arg(match self.autocommit {
                None => "-",
                Some(true) => "1",
                Some(false) => "0",
            })
            .arg(if self.multi_statements { "1" } else { "0" })
            .arg(match self.end {
                PyEnd::Commit => "commit",
                PyEnd::Rollback => "rollback",
                PyEnd::Close => "close",
            })
            .args(&self.statements);
        run_process(cmd, None, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::parse_errors;

    #[test]
    fn cli_and_runner_errors_parse() {
        let e = parse_errors(
            "ERROR 1062 (23000) at line 1: Duplicate entry '1' for key 'PRIMARY'\n\
             ERROR 3098 (HY000) at line 2: The table does not comply\nnoise\n\
             ERR\t1213\t-----\tDeadlock found",
        );
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].code, e[0].sqlstate.as_str()), (1062, "23000"));
        assert_eq!(e[0].message, "Duplicate entry '1' for key 'PRIMARY'");
        assert_eq!((e[0].line, e[1].line, e[2].line), (Some(1), Some(2), None));
        assert_eq!((e[1].code, e[1].sqlstate.as_str()), (3098, "HY000"));
        assert_eq!(e[2].code, 1213);
    }
}
