//! The deployment files in deploy/ (systemd unit, Dockerfile, compose, Kubernetes) agree with
//! each other and with the proxy: the grproxy configs they carry load with the real loader,
//! and the ports, paths, secrets and probes they wire up are the ones those configs use.
//! No container runtime or cluster is needed (none is on the test machines); what can be
//! run here is: `systemd-analyze verify` on the unit, and the compose set-up script's
//! certificates through `grproxy check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use grproxy::config::{self, Config};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Any YAML value.
#[derive(Debug, Clone, serde::Deserialize)]
#[allow(dead_code)] // every variant is needed to deserialize; not every payload is read
#[serde(untagged)]
enum Y {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Y>),
    Map(BTreeMap<String, Y>),
}

impl Y {
    /// `map[key]`, with YAML merge keys (`<<: *anchor`) resolved.
    fn get(&self, key: &str) -> Option<&Y> {
        let Y::Map(m) = self else { return None };
        m.get(key).or_else(|| m.get("<<").and_then(|base| base.get(key)))
    }

    fn at(&self, path: &[&str]) -> &Y {
        path.iter().fold(self, |y, k| {
            y.get(k)
                .unwrap_or_else(|| panic!("no key {k:?} (path {path:?}) in {y:?}"))
        })
    }

    fn str(&self) -> &str {
        match self {
            Y::Str(s) => s,
            other => panic!("expected a string, got {other:?}"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            Y::Int(i) => *i,
            Y::Str(s) => s.parse().unwrap_or_else(|_| panic!("expected a number, got {s:?}")),
            other => panic!("expected a number, got {other:?}"),
        }
    }

    fn seq(&self) -> &[Y] {
        match self {
            Y::Seq(v) => v,
            other => panic!("expected a list, got {other:?}"),
        }
    }

    fn strs(&self) -> Vec<&str> {
        self.seq().iter().map(Y::str).collect()
    }

    fn map(&self) -> &BTreeMap<String, Y> {
        match self {
            Y::Map(m) => m,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// What every mysqld of a group needs, as command-line options.
const MYSQLD_OPTIONS: &[&str] = &[
    "--bind-address=127.0.0.1",
    "--proxy-protocol-networks=127.0.0.1",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--sync-binlog=1",
    "--innodb-flush-log-at-trx-commit=1",
    "--innodb-autoinc-lock-mode=1",
];

/// Checks a group member's config the way the deployments rely on it.
fn check_member(cfg: &Config, id: u64, peer_host: impl Fn(u64) -> String, peer_dir: &str, secrets_dir: &str) {
    let g = cfg.group.as_ref().expect("a group member");
    assert_eq!(g.member_id, id);
    assert_eq!(g.members.len(), 3);
    for (m, addr) in &g.members {
        assert_eq!(addr, &format!("{}:7001", peer_host(*m)), "member {m}");
    }
    let tls = g.tls.as_ref().expect("group.tls");
    for p in [&tls.ca, &tls.cert, &tls.key] {
        assert!(p.as_ref().unwrap().starts_with(peer_dir), "{p:?} not under {peer_dir}");
    }
    let pw = cfg.service_account.password_file.as_ref().expect("password_file");
    assert!(pw.starts_with(secrets_dir), "{pw:?}");
    assert_eq!(cfg.backend.address.as_deref(), Some("127.0.0.1:3306"));
    assert!(cfg.backend.proxy_protocol);
    assert!(cfg.admin.http.is_some(), "the admin endpoint serves the probes");
}

#[test]
fn compose_file_wires_three_members() {
    let dir = deploy().join("compose");
    let text = read(&dir.join("docker-compose.yml"));
    let compose: Y = serde_saphyr::from_str(&text).expect("docker-compose.yml parses");
    let services = compose.at(&["services"]).map();
    let secrets = compose.at(&["secrets"]).map();
    let mut server_ids = Vec::new();
    for id in 1..=3u64 {
        let proxy = &services[&format!("grproxy-{id}")];
        let db_name = format!("mariadb-{id}");
        let db = &services[&db_name];
        assert_eq!(proxy.at(&["network_mode"]).str(), format!("service:{db_name}"));
        assert_eq!(
            proxy.at(&["depends_on", &db_name, "condition"]).str(),
            "service_healthy"
        );

        // The config file it mounts loads, and names what the compose file provides.
        let volumes = proxy.at(&["volumes"]).strs();
        let mount = |target: &str| -> String {
            volumes
                .iter()
                .find_map(|v| {
                    let parts: Vec<&str> = v.split(':').collect();
                    (parts[1] == target).then(|| parts[0].to_string())
                })
                .unwrap_or_else(|| panic!("grproxy-{id} mounts nothing at {target}"))
        };
        let cfg_file = dir.join(mount("/etc/grproxy/grproxy.yaml"));
        let cfg = config::load_file(&cfg_file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mount("/etc/grproxy/peer"), format!("./certs/member-{id}"));
        check_member(
            &cfg,
            id,
            |m| format!("mariadb-{m}"),
            "/etc/grproxy/peer",
            "/run/secrets",
        );
        for m in cfg.group.as_ref().unwrap().members.keys() {
            assert!(
                services.contains_key(&format!("mariadb-{m}")),
                "peer host of member {m}"
            );
        }
        let secret = cfg.service_account.password_file.as_ref().unwrap().file_name().unwrap();
        let secret = secret.to_str().unwrap();
        assert!(
            proxy.at(&["secrets"]).strs().contains(&secret),
            "grproxy-{id} gets {secret}"
        );
        assert!(
            db.at(&["secrets"]).strs().contains(&secret),
            "{db_name}'s init script reads {secret}"
        );
        assert!(secrets.contains_key(secret));
        assert!(
            mount("/var/lib/grproxy").starts_with("raft-"),
            "a volume for group.data_dir"
        );
        assert!(cfg.group.as_ref().unwrap().data_dir.starts_with("/var/lib/grproxy"));

        // Ports are published on the service that owns the network namespace.
        let ports = db.at(&["ports"]).strs();
        for inner in [
            port_of(cfg.listen.tcp.as_ref().unwrap()),
            port_of(cfg.admin.http.as_ref().unwrap()),
        ] {
            assert!(
                ports.iter().any(|p| p.ends_with(&format!(":{inner}"))),
                "{db_name} publishes {inner}: {ports:?}"
            );
        }
        let health = proxy.at(&["healthcheck", "test"]).strs().join(" ");
        assert!(
            health.contains(&format!(
                "/dev/tcp/127.0.0.1/{}",
                port_of(cfg.admin.http.as_ref().unwrap())
            )) && health.contains("GET /health"),
            "{health}"
        );
        // The drain fits in the stop timeout.
        let grace = proxy.at(&["stop_grace_period"]).str();
        let grace_ms: u64 = grace.trim_end_matches('s').parse::<u64>().unwrap() * 1000;
        assert!(
            grace_ms > cfg.limits.shutdown_grace_ms,
            "{grace} vs {}",
            cfg.limits.shutdown_grace_ms
        );

        // mysqld as a member needs it.
        let args = db.at(&["command"]).strs();
        for want in MYSQLD_OPTIONS {
            assert!(args.contains(want), "{db_name} lacks {want}: {args:?}");
        }
        assert!(args.iter().any(|a| a.starts_with("--log-bin")), "{args:?}");
        server_ids.push(args.iter().find(|a| a.starts_with("--server-id=")).unwrap().to_string());
        let init = db
            .at(&["volumes"])
            .strs()
            .into_iter()
            .find(|v| v.contains("/docker-entrypoint-initdb.d"))
            .expect("an init script for the service account");
        let init_dir = dir.join(init.split(':').next().unwrap());
        let script = read(&init_dir.join("10-grproxy-account.sh"));
        assert!(
            script.contains(&format!("'{}'@'127.0.0.1'", cfg.service_account.user))
                && script.contains("WITH GRANT OPTION"),
            "{script}"
        );
    }
    server_ids.sort();
    server_ids.dedup();
    assert_eq!(server_ids.len(), 3, "distinct server ids");
}

/// setup.sh's certificates and passwords make each compose member's config pass `grproxy
/// check` (with the container paths mapped to the files): each member's certificate names
/// it; member 1 with member 2's files does not.
#[test]
fn compose_setup_certificates_pass_check() {
    assert!(
        Command::new("openssl").arg("version").output().is_ok(),
        "openssl is needed (deploy/install-deps.sh installs it)"
    );
    let src = deploy().join("compose");
    let tmp = tempfile::tempdir().unwrap();
    for f in ["setup.sh", "grproxy-1.yaml", "grproxy-2.yaml", "grproxy-3.yaml"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    let out = Command::new("bash").arg(tmp.path().join("setup.sh")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let local = |id: u64, files_of: u64| {
        let text = read(&tmp.path().join(format!("grproxy-{id}.yaml")))
            .replace(
                "/etc/grproxy/peer",
                &tmp.path()
                    .join(format!("certs/member-{files_of}"))
                    .display()
                    .to_string(),
            )
            .replace("/run/secrets", &tmp.path().join("secrets").display().to_string());
        let p = tmp.path().join(format!("local-{id}-{files_of}.yaml"));
        std::fs::write(&p, text).unwrap();
        p
    };
    for id in 1..=3 {
        let p = local(id, id);
        let ok = grproxy::cli::check::check(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(ok.ends_with(": OK"));
    }
    let e = grproxy::cli::check::check(&local(1, 2)).unwrap_err().to_string();
    assert!(e.contains("names member 2"), "{e}");
}

fn k8s_objects() -> Vec<(String, Y)> {
    let dir = deploy().join("k8s");
    let kustomization: Y = serde_saphyr::from_str(&read(&dir.join("kustomization.yaml"))).unwrap();
    let mut objects = Vec::new();
    for f in kustomization.at(&["resources"]).strs() {
        let docs: Vec<Y> = serde_saphyr::from_multiple(&read(&dir.join(f))).unwrap_or_else(|e| panic!("{f}: {e}"));
        for d in docs {
            let name = format!("{}/{}", d.at(&["kind"]).str(), d.at(&["metadata", "name"]).str());
            objects.push((name, d));
        }
    }
    // Every manifest in the folder is applied by `kubectl apply -k`.
    let mut listed: Vec<String> = kustomization
        .at(&["resources"])
        .strs()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    listed.sort();
    present.sort();
    assert_eq!(listed, present);
    objects
}

#[test]
fn kubernetes_manifests_wire_three_members() {
    let objects: BTreeMap<String, Y> = k8s_objects().into_iter().collect();
    let sts = &objects["StatefulSet/grproxy"];
    let cm = &objects["ConfigMap/grproxy"];
    let peers = &objects["Service/grproxy-peers"];
    let spec = sts.at(&["spec"]);
    let service_name = spec.at(&["serviceName"]).str();
    assert_eq!(service_name, "grproxy-peers");
    assert_eq!(peers.at(&["spec", "clusterIP"]).str(), "None");
    assert!(matches!(peers.at(&["spec", "publishNotReadyAddresses"]), Y::Bool(true)));
    assert_eq!(spec.at(&["podManagementPolicy"]).str(), "Parallel");
    let replicas = spec.at(&["replicas"]).int();
    assert_eq!(replicas, 3);

    // The config template, rendered as the init container does, loads for every member.
    let template = cm.at(&["data", "grproxy.yaml"]).str();
    let pod = spec.at(&["template", "spec"]);
    let init = &pod.at(&["initContainers"]).seq()[0];
    let script = init.at(&["command"]).strs().join(" ");
    assert!(script.contains("sed \"s/MEMBER_ID/$id/\""), "{script}");
    assert!(
        script.contains("grproxy check --config /etc/grproxy/grproxy.yaml"),
        "{script}"
    );
    let mut cfgs = Vec::new();
    for id in 1..=replicas as u64 {
        let text = template.replace("MEMBER_ID", &id.to_string());
        let cfg = config::load_str(&text, Path::new("configmap/grproxy.yaml")).unwrap_or_else(|e| panic!("{e}"));
        check_member(
            &cfg,
            id,
            |m| format!("grproxy-{}.{service_name}", m - 1),
            "/etc/grproxy/peer",
            "/run/secrets",
        );
        // The init container copies this member's files to where the config points.
        for (from, to) in [
            ("ca.pem", "peer-ca.pem"),
            ("member-$id-cert.pem", "peer-cert.pem"),
            ("member-$id-key.pem", "peer-key.pem"),
        ] {
            assert!(
                script.contains(&format!("/peer-tls/{from} /etc/grproxy/peer/{to}")),
                "{from}: {script}"
            );
        }
        cfgs.push(cfg);
    }
    let cfg = &cfgs[0];

    let containers = pod.at(&["containers"]).seq();
    let named = |n: &str| containers.iter().find(|c| c.at(&["name"]).str() == n).unwrap();
    let proxy = named("grproxy");
    let ports: BTreeMap<&str, i64> = proxy
        .at(&["ports"])
        .seq()
        .iter()
        .map(|p| (p.at(&["name"]).str(), p.at(&["containerPort"]).int()))
        .collect();
    assert_eq!(ports["mysql"], port_of(cfg.listen.tcp.as_ref().unwrap()) as i64);
    assert_eq!(ports["admin"], port_of(cfg.admin.http.as_ref().unwrap()) as i64);
    assert_eq!(ports["peer"], 7001);
    // Readiness on /health; liveness on /metrics (restarting does not bring back a quorum).
    assert_eq!(proxy.at(&["readinessProbe", "httpGet", "path"]).str(), "/health");
    assert_eq!(proxy.at(&["readinessProbe", "httpGet", "port"]).str(), "admin");
    assert_eq!(proxy.at(&["livenessProbe", "httpGet", "path"]).str(), "/metrics");
    let mounts: BTreeMap<&str, &str> = proxy
        .at(&["volumeMounts"])
        .seq()
        .iter()
        .map(|m| (m.at(&["mountPath"]).str(), m.at(&["name"]).str()))
        .collect();
    assert_eq!(mounts["/etc/grproxy"], "member-config");
    assert_eq!(mounts["/var/lib/grproxy"], "raft-data");
    assert_eq!(mounts["/run/secrets"], "grproxy-password");
    let volumes: BTreeMap<&str, &Y> = pod
        .at(&["volumes"])
        .seq()
        .iter()
        .map(|v| (v.at(&["name"]).str(), v))
        .collect();
    let pw = volumes["grproxy-password"].at(&["secret", "items"]).seq();
    let file = cfg.service_account.password_file.as_ref().unwrap();
    assert_eq!(
        Path::new("/run/secrets").join(pw[0].at(&["path"]).str()),
        *file,
        "the password file comes from the Secret"
    );
    assert_eq!(
        volumes["peer-tls"].at(&["secret", "secretName"]).str(),
        "grproxy-peer-tls"
    );
    let claims: Vec<&str> = spec
        .at(&["volumeClaimTemplates"])
        .seq()
        .iter()
        .map(|c| c.at(&["metadata", "name"]).str())
        .collect();
    assert!(claims.contains(&"raft-data") && claims.contains(&"mysql-data"));
    let sc = proxy.at(&["securityContext"]);
    assert!(matches!(sc.at(&["runAsNonRoot"]), Y::Bool(true)));
    assert!(matches!(sc.at(&["allowPrivilegeEscalation"]), Y::Bool(false)));

    // mysqld outlives the drain; the pod's grace period covers both.
    let db = named("mariadb");
    let db_cmd = db.at(&["command"]).strs().join(" ");
    for want in MYSQLD_OPTIONS {
        assert!(db_cmd.contains(want), "mariadb lacks {want}");
    }
    assert!(db_cmd.contains("--server-id=$(( ${HOSTNAME##*-} + 1 ))"), "{db_cmd}");
    let delay: u64 = db.at(&["lifecycle", "preStop", "exec", "command"]).strs()[1]
        .parse()
        .unwrap();
    let grace_s = pod.at(&["terminationGracePeriodSeconds"]).int() as u64;
    assert!(
        delay * 1000 > cfg.limits.shutdown_grace_ms,
        "mysqld stops before the drain ends"
    );
    assert!(grace_s > delay, "the pod is killed before mysqld stops");
    let init_sql = cm.at(&["data", "10-grproxy-account.sh"]).str();
    assert!(init_sql.contains(&format!("'{}'@'127.0.0.1'", cfg.service_account.user)));

    // The client Service reaches grproxy, not mysqld.
    let svc = &objects["Service/grproxy"];
    assert_eq!(svc.at(&["spec", "ports"]).seq()[0].at(&["targetPort"]).str(), "mysql");
}

#[test]
fn systemd_unit_is_hardened_and_verifies() {
    let unit = read(&deploy().join("systemd/grproxy.service"));
    let keys: Vec<(&str, &str)> = unit
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let value = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    assert_eq!(
        value("ExecStart"),
        Some("/usr/local/bin/grproxy run --config /etc/grproxy/grproxy.yaml")
    );
    assert_eq!(value("User"), Some("grproxy"));
    assert_eq!(value("NoNewPrivileges"), Some("yes"));
    assert_eq!(value("ProtectSystem"), Some("strict"));
    assert!(value("ReadWritePaths").unwrap().contains("/var/lib/grproxy"));
    assert_eq!(value("CapabilityBoundingSet"), Some(""));
    assert_eq!(
        value("RestartPreventExitStatus"),
        Some("2"),
        "a config error is not retried"
    );
    let stop: u64 = value("TimeoutStopSec").unwrap().trim_end_matches('s').parse().unwrap();
    assert!(stop * 1000 > config::DEFAULT_SHUTDOWN_GRACE_MS);
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));

    // systemd's own check, with the binary this build made.
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit's syntax check is skipped");
        return;
    };
    assert!(out.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("grproxy.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/grproxy", env!("CARGO_BIN_EXE_grproxy")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}

#[test]
fn dockerfile_builds_the_binary_and_runs_it_unprivileged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = read(&deploy().join("Dockerfile"));
    assert!(text.contains("cargo build --release --locked --bin grproxy"));
    assert_eq!(
        text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")),
        2,
        "two stages"
    );
    assert!(text.contains("USER 10001"), "not root");
    assert!(text.contains("STOPSIGNAL SIGTERM"));
    assert!(text.contains("ENTRYPOINT [\"/usr/local/bin/grproxy\"]"));
    // What it copies exists and is not excluded from the build context.
    let ignored = read(&root.join(".dockerignore"));
    for line in text.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(root.join(src).exists(), "{src} (from {line:?})");
            assert!(!ignored.lines().any(|l| l.trim() == *src), "{src} is in .dockerignore");
        }
    }
    assert!(ignored.lines().any(|l| l.trim() == "target"));
}
