//! Loading and validation tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

const ORIGIN: &str = "config/test.yaml";

/// Six lines; appended snippets start at line 7.
const MINIMAL: &str = "\
listen:
  tcp: 127.0.0.1:6033
backend:
  address: 127.0.0.1:3306
service_account:
  user: grproxy
";

fn load(text: &str) -> Result<Config, ConfigError> {
    load_str(text, Path::new(ORIGIN))
}

fn load_err(text: &str) -> String {
    match load(text) {
        Ok(c) => panic!("expected an error, got {c:?}\n--- yaml ---\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn minimal_config_takes_defaults() {
    let c = load(MINIMAL).unwrap();
    assert_eq!(c.listen.tcp.as_deref(), Some("127.0.0.1:6033"));
    assert_eq!(c.listen.unix_socket, None);
    assert_eq!(c.backend.address.as_deref(), Some("127.0.0.1:3306"));
    assert_eq!(c.backend.connect_timeout_ms, 5000);
    assert_eq!(c.service_account.user, "grproxy");
    assert_eq!(c.service_account.resolve_password().unwrap(), "");
    assert_eq!(c.service_account.source_position, None);
    assert_eq!(c.tls, TlsConfig::default());
    assert_eq!(c.tls.mode, TlsMode::Preferred);
    assert!(c.tls.uses_generated_cert());
    assert_eq!(c.limits, Limits::default());
    assert_eq!(c.limits.max_connections, 1024);
    assert_eq!(c.limits.max_connections_per_user, 0);
    assert_eq!(c.limits.max_packet_size, 64 * 1024 * 1024);
    assert_eq!(c.limits.handshake_timeout_ms, 10_000);
    assert_eq!(c.limits.idle_timeout_s, 0);
    assert_eq!(c.limits.shutdown_grace_ms, 10_000);
    assert_eq!(c.admin.http, None);
    assert!(!c.features.local_infile);
    assert_eq!(c.log.level, "info");
    assert_eq!(c.log.format, LogFormat::Text);
}

#[test]
fn full_config() {
    let text = "\
listen:
  tcp: \"[::1]:0\"
  unix_socket: /run/grproxy.sock
backend:
  address: db.local:3307
  unix_socket: /var/run/mysqld/mysqld.sock
  connect_timeout_ms: 250
  proxy_protocol: false
service_account:
  user: svc
  password: inline-pw
tls:
  mode: required
  cert: /etc/grproxy/cert.pem
  key: /etc/grproxy/key.pem
limits:
  max_connections: 10
  max_connections_per_user: 2
  max_packet_size: 1024
  handshake_timeout_ms: 1
  max_handshakes: 3
  idle_timeout_s: 3600
  shutdown_grace_ms: 2500
features:
  local_infile: true
log:
  level: grproxy=debug,info
  format: json
admin:
  http: 127.0.0.1:9104
";
    let c = load(text).unwrap();
    let want = Config {
        listen: ListenConfig {
            tcp: Some("[::1]:0".into()),
            unix_socket: Some("/run/grproxy.sock".into()),
            read_write_tcp: None,
            read_only_tcp: None,
        },
        backend: BackendConfig {
            address: Some("db.local:3307".into()),
            unix_socket: Some("/var/run/mysqld/mysqld.sock".into()),
            connect_timeout_ms: 250,
            proxy_protocol: false,
        },
        service_account: ServiceAccount {
            user: "svc".into(),
            password: Some("inline-pw".into()),
            password_env: None,
            password_file: None,
            source_position: Some(Position {
                file: ORIGIN.into(),
                line: Some(11),
                column: None,
            }),
        },
        tls: TlsConfig {
            mode: TlsMode::Required,
            cert: Some("/etc/grproxy/cert.pem".into()),
            key: Some("/etc/grproxy/key.pem".into()),
        },
        limits: Limits {
            max_connections: 10,
            max_connections_per_user: 2,
            max_packet_size: 1024,
            handshake_timeout_ms: 1,
            max_handshakes: 3,
            idle_timeout_s: 3600,
            shutdown_grace_ms: 2500,
        },
        features: Features { local_infile: true },
        log: LogConfig {
            level: "grproxy=debug,info".into(),
            format: LogFormat::Json,
        },
        group: None,
        admin: AdminConfig {
            http: Some("127.0.0.1:9104".into()),
        },
    };
    assert_eq!(c, want);
    assert!(!c.tls.uses_generated_cert());
    assert_eq!(c.service_account.resolve_password().unwrap(), "inline-pw");
}

#[test]
fn example_file_loads_and_documents_the_defaults() {
    let text = include_str!("../../config/grproxy.example.yaml");
    let c = load_str(text, Path::new("config/grproxy.example.yaml")).unwrap();
    assert_eq!(c.limits, Limits::default());
    assert_eq!(c.features, Features::default());
    assert_eq!(c.log, LogConfig::default());
    assert_eq!(c.tls, TlsConfig::default());
    assert_eq!(c.admin, AdminConfig::default());
    assert_eq!(
        c.backend.connect_timeout_ms,
        BackendConfig::default().connect_timeout_ms
    );
    assert_eq!(
        c.service_account.password_env.as_deref(),
        Some("GRPROXY_SERVICE_PASSWORD")
    );

    // The commented-out group section, uncommented, is valid and documents the default.
    let (head, group) = text.split_once("\n#group:").expect("a commented group section");
    let uncommented = format!("{head}\ngroup:{}", group.replace("\n#  ", "\n  "));
    let g = load_str(&uncommented, Path::new("example")).unwrap().group.unwrap();
    assert_eq!((g.member_id, g.members.len()), (1, 3));
    assert_eq!(g.snapshot_every, GroupConfig::default().snapshot_every);
    assert_eq!(g.flow_control_entries, GroupConfig::default().flow_control_entries);
    let tls = g.tls.expect("the example shows group.tls");
    assert_eq!(tls.ca.as_deref(), Some(Path::new("/etc/grproxy/peer-ca.pem")));
    assert!(tls.cert.is_some() && tls.key.is_some());

    // The same file through load_file, by path.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grproxy.example.yaml");
    assert_eq!(load_file(&path).unwrap().listen, c.listen);
}

#[test]
fn tls_modes_and_generated_cert() {
    let cases = [
        ("disabled", TlsMode::Disabled, false),
        ("preferred", TlsMode::Preferred, true),
        ("required", TlsMode::Required, true),
    ];
    for (text, mode, generated) in cases {
        let c = load(&format!("{MINIMAL}tls:\n  mode: {text}\n")).unwrap();
        assert_eq!(c.tls.mode, mode);
        assert_eq!(c.tls.uses_generated_cert(), generated, "{text}");
    }
}

/// Every error: YAML appended to MINIMAL (or replacing it when it starts with
/// `!`), then substrings the message must contain.
#[test]
fn error_messages() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown top-level key",
            "bogus: 1\n",
            &[
                "config/test.yaml:7:1: unknown key \"bogus\" at top level",
                "expected one of: listen, backend, service_account, tls, limits, features, log",
            ],
        ),
        (
            "unknown nested key",
            "limits:\n  max_connections: 5\n  max_conection: 5\n",
            &[
                "config/test.yaml:9:3: unknown key \"max_conection\" in limits \
                 (expected one of: max_connections, max_connections_per_user, max_packet_size, \
                 handshake_timeout_ms, max_handshakes, idle_timeout_s, shutdown_grace_ms)",
                "did you mean \"max_connections\"?",
            ],
        ),
        (
            "unknown key in flow mapping",
            "features: {local_infile: true, remote_infile: true}\n",
            &["config/test.yaml:7:", "unknown key \"remote_infile\" in features"],
        ),
        (
            "wrong type",
            "limits:\n  max_connections: lots\n",
            &["config/test.yaml:8:20: limits.max_connections: expected a whole number from 0 to 4294967295, got \"lots\""],
        ),
        (
            "negative number",
            "limits:\n  idle_timeout_s: -5  # comment\n",
            &["config/test.yaml:8:19: limits.idle_timeout_s: expected a whole number", "got \"-5\""],
        ),
        (
            "number too big for u32",
            "limits:\n  max_packet_size: 4294967296\n",
            &["config/test.yaml:8:20: limits.max_packet_size: expected a whole number from 0 to 4294967295"],
        ),
        (
            "empty value for number",
            "!listen:\n  tcp: 127.0.0.1:0\nbackend:\n  address: h:1\n  connect_timeout_ms:\n",
            &["config/test.yaml:5:", "backend.connect_timeout_ms: expected a whole number (0 or more), got an empty value"],
        ),
        (
            "not a boolean",
            "features:\n  local_infile: sometimes\n",
            &["config/test.yaml:8:17: features.local_infile: expected true or false, got \"sometimes\""],
        ),
        (
            "section is a scalar",
            "limits: 5\n",
            &["config/test.yaml:7:9: limits: expected a mapping of keys"],
        ),
        (
            "invalid tls mode",
            "tls:\n  mode: optional\n",
            &["config/test.yaml:8:9: tls.mode: unknown value \"optional\" (expected one of: disabled, preferred, required)"],
        ),
        (
            "tls mode is case-sensitive",
            "tls:\n  mode: Required\n",
            &["tls.mode: unknown value \"Required\""],
        ),
        (
            "invalid log format",
            "log:\n  format: xml\n",
            &["config/test.yaml:8:", "log.format: unknown value \"xml\" (expected one of: text, json)"],
        ),
        (
            "duplicate key",
            "limits:\n  max_connections: 1\n  max_connections: 2\n",
            &["config/test.yaml:9:3: limits.max_connections: key \"max_connections\" appears more than once"],
        ),
        (
            "yaml syntax error",
            "limits:\n  max_connections: 1\n bad: 2\n",
            &["config/test.yaml:9:"],
        ),
        (
            "cert without key",
            "tls:\n  mode: required\n  cert: /etc/cert.pem\n",
            &["config/test.yaml:9: tls.cert: set without tls.key"],
        ),
        (
            "key without cert",
            "tls:\n  key: /etc/key.pem\n",
            &["config/test.yaml:8: tls.key: set without tls.cert"],
        ),
        (
            "max_packet_size too small",
            "limits:\n  max_packet_size: 10\n",
            &["config/test.yaml:8: limits.max_packet_size: must be between 1024 and 1073741824, got 10"],
        ),
        (
            "max_packet_size too large",
            "limits:\n  max_packet_size: 1073741825\n",
            &["config/test.yaml:8: limits.max_packet_size: must be between 1024 and 1073741824, got 1073741825"],
        ),
        (
            "max_connections zero",
            "limits:\n  max_connections: 0\n",
            &["config/test.yaml:8: limits.max_connections: must be at least 1, got 0"],
        ),
        (
            "handshake timeout zero",
            "limits:\n  handshake_timeout_ms: 0\n",
            &["config/test.yaml:8: limits.handshake_timeout_ms: must be greater than 0"],
        ),
        (
            "connect timeout zero",
            "!listen:\n  tcp: 127.0.0.1:0\nbackend:\n  address: h:1\n  connect_timeout_ms: 0\n",
            &["config/test.yaml:5: backend.connect_timeout_ms: must be greater than 0"],
        ),
        (
            "empty log level",
            "log:\n  level: \"\"\n",
            &["config/test.yaml:8: log.level: must not be empty"],
        ),
        (
            "two password sources",
            "  password: pw\n  password_env: PW\n",
            &["config/test.yaml:8: service_account.password_env: only one of password, password_env, password_file may be set (found: password, password_env)"],
        ),
        (
            "bad password_env name",
            "  password_env: \"A=B\"\n",
            &["config/test.yaml:7: service_account.password_env: \"A=B\" is not a valid environment variable name"],
        ),
        (
            "no listener (section absent)",
            "!backend:\n  address: 127.0.0.1:3306\nservice_account:\n  user: u\n",
            &["config/test.yaml: listen: no listener configured"],
        ),
        (
            "no listener (section empty)",
            "!listen:\n  tcp: ~\nbackend:\n  address: 127.0.0.1:3306\nservice_account:\n  user: u\n",
            &["config/test.yaml:1: listen: no listener configured"],
        ),
        (
            "no backend",
            "!listen:\n  unix_socket: /tmp/g.sock\nservice_account:\n  user: u\n",
            &["config/test.yaml: backend: backend.address is required"],
        ),
        (
            "socket only",
            "!listen:\n  tcp: 127.0.0.1:0\nbackend:\n  unix_socket: /tmp/m.sock\nservice_account:\n  user: u\n",
            &["config/test.yaml:3: backend: backend.address is required"],
        ),
        (
            "missing user",
            "!listen:\n  tcp: 127.0.0.1:0\nbackend:\n  address: h:1\nservice_account:\n  password_env: X\n",
            &["config/test.yaml:5: service_account.user: must be set"],
        ),
        (
            "bad listen address",
            "!listen:\n  tcp: localhost\nbackend:\n  address: h:1\n",
            &["config/test.yaml:2: listen.tcp: missing :port", "got \"localhost\""],
        ),
        (
            "unbracketed ipv6",
            "!listen:\n  tcp: \"::1:6033\"\nbackend:\n  address: h:1\n",
            &["config/test.yaml:2: listen.tcp: IPv6 addresses must be in brackets"],
        ),
        (
            "backend port zero",
            "!listen:\n  tcp: 127.0.0.1:0\nbackend:\n  address: h:0\n",
            &["config/test.yaml:4: backend.address: port must be from 1 to 65535"],
        ),
        (
            "unix socket path too long",
            &format!("!listen:\n  unix_socket: /{}\n", "a".repeat(200)),
            &["config/test.yaml:2: listen.unix_socket: path is 201 bytes"],
        ),
        (
            "top level is a sequence",
            "!- a\n- b\n",
            &["config/test.yaml:1:1: expected a mapping of keys"],
        ),
        (
            "two documents",
            "---\nlog:\n  level: x\n",
            &["config/test.yaml:8:1: only one YAML document is allowed"],
        ),
    ];
    for (name, snippet, wants) in cases {
        let text = match snippet.strip_prefix('!') {
            Some(whole) => whole.to_owned(),
            None => format!("{MINIMAL}{snippet}"),
        };
        let msg = load_err(&text);
        for want in *wants {
            assert!(
                msg.contains(want),
                "case {name:?}:\n  message: {msg}\n  wanted:  {want}"
            );
        }
        assert!(!msg.contains('\n'), "case {name:?}: multi-line message {msg:?}");
    }
}

#[test]
fn error_accessors() {
    let err = load(&format!("{MINIMAL}limits:\n  max_conection: 5\n")).unwrap_err();
    let pos = err.position().unwrap();
    assert_eq!(pos.file, PathBuf::from(ORIGIN));
    assert_eq!((pos.line, pos.column), (Some(8), Some(3)));
    assert_eq!(err.key_path(), Some("limits.max_conection"));

    let err = load(&format!("{MINIMAL}limits:\n  max_packet_size: 1\n")).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    assert_eq!(err.key_path(), Some("limits.max_packet_size"));
    assert_eq!(err.position().unwrap().line, Some(8));
}

#[test]
fn password_values_never_appear_in_messages_or_debug() {
    let secret = "hunter2-do-not-print";
    let text = MINIMAL.replace("  user: grproxy\n", &format!("  user: grproxy\n  password: {secret}\n"));
    let c = load(&text).unwrap();
    for dbg in [format!("{c:?}"), format!("{c:#?}"), format!("{:?}", c.service_account)] {
        assert!(!dbg.contains(secret), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
    }

    // A type error on the password key does not echo the value either.
    let text = MINIMAL.replace(
        "  user: grproxy\n",
        &format!("  user: grproxy\n  password: [{secret}]\n"),
    );
    let msg = load_err(&text);
    assert!(!msg.contains(secret), "{msg}");
    assert!(msg.contains("config/test.yaml:7:"), "{msg}");
    assert!(msg.contains("service_account.password"), "{msg}");

    // Nor does "two sources".
    let text = MINIMAL.replace(
        "  user: grproxy\n",
        &format!("  user: grproxy\n  password: {secret}\n  password_file: /x\n"),
    );
    let msg = load_err(&text);
    assert!(!msg.contains(secret), "{msg}");
}

#[test]
fn password_env_through_loader() {
    let var = "GRPROXY_CFG_TEST_LOADER_PW_41c2";
    let text = format!("{MINIMAL}  password_env: {var}\n");

    std::env::set_var(var, "env-pw");
    let c = load(&text).unwrap();
    assert_eq!(c.service_account.resolve_password().unwrap(), "env-pw");

    std::env::remove_var(var);
    let msg = c.service_account.resolve_password().unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "config/test.yaml:7: service_account.password_env: \
             environment variable \"{var}\" is not set"
        )
    );
}

#[test]
fn password_file_through_loader() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "file-pw\n").unwrap();
    let text = format!("{MINIMAL}  password_file: {}\n", pw.display());
    let c = load(&text).unwrap();
    assert_eq!(c.service_account.resolve_password().unwrap(), "file-pw");

    std::fs::remove_file(&pw).unwrap();
    let msg = c.service_account.resolve_password().unwrap_err().to_string();
    assert!(
        msg.starts_with("config/test.yaml:7: service_account.password_file: "),
        "{msg}"
    );
    assert!(msg.contains(&pw.display().to_string()), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");
}

#[test]
fn load_file_reads_and_reports_missing_files() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(MINIMAL.as_bytes()).unwrap();
    assert_eq!(
        load_file(f.path()).unwrap(),
        load(MINIMAL).unwrap_or_else(|e| panic!("{e}"))
    );

    // Errors name the real path.
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(format!("{MINIMAL}oops: 1\n").as_bytes()).unwrap();
    let msg = load_file(bad.path()).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{}:7:1: ", bad.path().display())), "{msg}");

    let missing = Path::new("/nonexistent/grproxy/grproxy.yaml");
    let err = load_file(missing).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        msg.starts_with("/nonexistent/grproxy/grproxy.yaml: cannot read config file: "),
        "{msg}"
    );
    assert!(msg.contains("No such file or directory"), "{msg}");
}

#[test]
fn yaml_conveniences_accepted() {
    // Comments, quoting, explicit nulls, document start marker, flow style.
    let text = "\
# comment
---
listen: { tcp: '0.0.0.0:6033', unix_socket: ~ }
backend:
  address: 127.0.0.1:3306
  unix_socket: /var/run/mysqld/mysqld.sock   # grproxy's own connections
service_account:
  user: \"grproxy\"
features:
  local_infile: yes
";
    let c = load(text).unwrap();
    assert_eq!(c.listen.tcp.as_deref(), Some("0.0.0.0:6033"));
    assert_eq!(c.backend.address.as_deref(), Some("127.0.0.1:3306"));
    assert!(c.backend.proxy_protocol);
    assert!(c.features.local_infile);
}

#[test]
fn group_section() {
    let base = "listen:\n  tcp: \"127.0.0.1:0\"\nbackend:\n  address: 127.0.0.1:3306\nservice_account:\n  user: svc\n";
    let ok = format!("{base}group:\n  member_id: 2\n  members:\n    1: \"127.0.0.1:7001\"\n    2: \"127.0.0.1:7002\"\n  data_dir: /tmp/raft\n  tls: {{ca: /c, cert: /m, key: /k}}\n");
    let c = load(&ok).unwrap();
    let g = c.group.unwrap();
    assert_eq!((g.member_id, g.members.len()), (2, 2));
    let bad = format!("{base}group:\n  member_id: 3\n  members:\n    1: \"127.0.0.1:7001\"\n  data_dir: /tmp/raft\n  tls: {{ca: /c, cert: /m, key: /k}}\n");
    let e = load(&bad).unwrap_err().to_string();
    assert!(e.contains("group.member_id"), "{e}");
    assert_eq!(
        load(&format!("{ok}  snapshot_every: 500\n"))
            .unwrap()
            .group
            .unwrap()
            .snapshot_every,
        500
    );
    let e = load(&format!("{ok}  snapshot_every: 5\n")).unwrap_err().to_string();
    assert!(e.contains("group.snapshot_every: must be at least 100, got 5"), "{e}");
    let retention = |v: &str| load(&format!("{ok}  retention_bytes: {v}\n")).map(|c| c.group.unwrap().retention_bytes);
    assert_eq!(retention("2097152").unwrap(), 2 << 20);
    let e = retention("1000").unwrap_err().to_string();
    assert!(e.contains("group.retention_bytes: must be at least 1048576"), "{e}");
    // group.raft_batches_in_flight: (yaml value, Ok(value) or the error text).
    let in_flight = |v: &str| {
        load(&format!("{ok}  raft_batches_in_flight: {v}\n")).map(|c| c.group.unwrap().raft_batches_in_flight)
    };
    for (v, want) in [
        ("1", Ok(1)),
        ("64", Ok(64)),
        ("0", Err("must be 1-64, got 0")),
        ("65", Err("must be 1-64, got 65")),
    ] {
        match (in_flight(v), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{v}"),
            (Err(e), Err(text)) => assert!(
                e.to_string().contains(&format!("group.raft_batches_in_flight: {text}")),
                "{v}: {e}"
            ),
            (got, want) => panic!("{v}: got {got:?}, want {want:?}"),
        }
    }
    assert_eq!(
        load(&ok).unwrap().group.unwrap().raft_batches_in_flight,
        crate::consensus::DEFAULT_BATCHES_IN_FLIGHT
    );
    // Single-primary settings: (yaml, Ok(mode, weight, consistency) or the error text).
    let cases: &[(&str, Result<(&str, u32, &str), &str>)] = &[
        ("", Ok(("multi-primary", 50, "EVENTUAL"))),
        (
            "  mode: single-primary\n  weight: 90\n  consistency: BEFORE\n",
            Ok(("single-primary", 90, "BEFORE")),
        ),
        (
            "  mode: primary\n",
            Err("group.mode: must be single-primary or multi-primary"),
        ),
        ("  weight: 101\n", Err("group.weight: must be 0-100")),
        ("  consistency: SOMETIMES\n", Err("group.consistency: must be EVENTUAL")),
    ];
    for (extra, want) in cases {
        let got = load(&format!("{ok}{extra}")).map(|c| c.group.unwrap());
        match (got, want) {
            (Ok(g), Ok((mode, weight, consistency))) => {
                assert_eq!(
                    (g.mode.as_str(), g.weight, g.consistency.as_str()),
                    (*mode, *weight, *consistency)
                )
            }
            (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{extra}: {e}"),
            (got, want) => panic!("{extra}: {got:?} vs {want:?}"),
        }
    }
}

/// `group.tls` is required (its keys too) unless the loudly named test-only opt-out is set,
/// and the two do not combine; unknown keys under it are errors.
#[test]
fn group_peer_tls() {
    let base = "listen:\n  tcp: \"127.0.0.1:0\"\nbackend:\n  address: 127.0.0.1:3306\nservice_account:\n  user: svc\n\
                group:\n  member_id: 1\n  members:\n    1: \"127.0.0.1:7001\"\n  data_dir: /tmp/raft\n";
    // Lines: base is 11 lines; appended keys start at line 12.
    let tls = "  tls:\n    ca: /etc/g/ca.pem\n    cert: /etc/g/m1.pem\n    key: /etc/g/m1.key\n";
    let g = load(&format!("{base}{tls}")).unwrap().group.unwrap();
    assert_eq!(
        g.tls,
        Some(GroupTlsConfig {
            ca: Some("/etc/g/ca.pem".into()),
            cert: Some("/etc/g/m1.pem".into()),
            key: Some("/etc/g/m1.key".into()),
        })
    );

    let e = load_err(base);
    assert!(e.contains("group.tls: must be set"), "{e}");
    assert!(e.starts_with(&format!("{ORIGIN}:7: ")), "{e}");
    for key in ["ca", "cert", "key"] {
        let without: String = tls
            .lines()
            .filter(|l| !l.trim_start().starts_with(key))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = load_err(&format!("{base}{without}"));
        assert!(e.contains(&format!("group.tls.{key}: must be set")), "{key}: {e}");
    }
    let e = load_err(&format!("{base}  tls:\n    ca: \"\"\n    cert: /c\n    key: /k\n"));
    assert!(e.contains("group.tls.ca: must not be empty"), "{e}");

    let err = load(&format!("{base}{tls}    crt: /x\n")).unwrap_err();
    assert_eq!(err.key_path(), Some("group.tls.crt"));
    let e = err.to_string();
    assert!(e.starts_with(&format!("{ORIGIN}:16:")), "{e}");
    assert!(e.contains("unknown key \"crt\" in group.tls"), "{e}");

    // There is no plain-text peer mode: the old test-only key is an unknown key.
    let e = load_err(&format!("{base}  insecure_plaintext_peers: true\n"));
    assert!(e.contains("unknown key \"insecure_plaintext_peers\""), "{e}");
}

/// `admin.http` is a `host:port` (port 0 allowed: the OS picks one); unknown keys under
/// `admin` are errors with their line.
#[test]
fn admin_section() {
    let c = load(&format!("{MINIMAL}admin:\n  http: \"[::1]:0\"\n")).unwrap();
    assert_eq!(c.admin.http.as_deref(), Some("[::1]:0"));
    let e = load_err(&format!("{MINIMAL}admin:\n  http: localhost\n"));
    assert!(e.starts_with(&format!("{ORIGIN}:8: admin.http: missing :port")), "{e}");
    let e = load_err(&format!("{MINIMAL}admin:\n  htp: 127.0.0.1:9104\n"));
    assert!(e.starts_with(&format!("{ORIGIN}:8:")), "{e}");
    assert!(
        e.contains("unknown key \"htp\" in admin") && e.contains("did you mean \"http\""),
        "{e}"
    );
    let c = load(&format!("{MINIMAL}limits:\n  shutdown_grace_ms: 0\n")).unwrap();
    assert_eq!(c.limits.shutdown_grace_ms, 0);
}

/// The read-write / read-only ports are host:port addresses and need a group.
#[test]
fn role_ports() {
    let plain =
        "listen:\n  tcp: \"127.0.0.1:0\"\n  read_only_tcp: \"127.0.0.1:6447\"\nbackend:\n  address: 127.0.0.1:3306\n\
                 service_account:\n  user: svc\n";
    let e = load(plain).unwrap_err().to_string();
    assert!(
        e.contains("listen.read_only_tcp: a read-write or read-only port needs a group"),
        "{e}"
    );
    let group = "group:\n  member_id: 1\n  members:\n    1: \"127.0.0.1:7001\"\n  data_dir: /tmp/raft\n  \
                 tls:\n    ca: /c\n    cert: /c\n    key: /k\n";
    let c = load(&format!("{plain}{group}")).unwrap();
    assert_eq!(c.listen.read_only_tcp.as_deref(), Some("127.0.0.1:6447"));
    let bad = plain.replace("127.0.0.1:6447", "nowhere");
    let e = load(&format!("{bad}{group}")).unwrap_err().to_string();
    assert!(e.contains("listen.read_only_tcp"), "{e}");
}
