//! Records the git revision the binary is built from (`grproxy --version`, `SHOW GRPROXY
//! STATUS`) as `GRPROXY_GIT_REVISION`: the variable of that name when the build sets it (a
//! container build without `.git`, see deploy/Dockerfile), else `git rev-parse --short HEAD`,
//! else "unknown" (no git, no repository).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GRPROXY_GIT_REVISION");
    let given = std::env::var("GRPROXY_GIT_REVISION")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphanumeric()));
    let revision = given.unwrap_or_else(|| git_revision().unwrap_or_else(|| "unknown".to_string()));
    println!("cargo:rustc-env=GRPROXY_GIT_REVISION={revision}");
    // Rebuild when HEAD moves (a commit or a checkout); a missing file would make cargo rerun
    // this script on every build, so only existing ones are named.
    println!("cargo:rerun-if-changed=build.rs");
    for f in [".git/HEAD", ".git/packed-refs"] {
        if Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            let path = format!(".git/{r}");
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}

fn git_revision() -> Option<String> {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()))
}
