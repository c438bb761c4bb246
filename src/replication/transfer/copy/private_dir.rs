//! The private directories that hold a copy's defaults file (with the service account's
//! password): removed when the copy ends, and by the next copy when a process was killed
//! before it could remove its own.

use std::path::{Path, PathBuf};

/// Name prefix of the directories, followed by `<pid>-<n>`.
pub const PREFIX: &str = "grproxy-copy-";

/// A directory removed when dropped.
pub struct PrivateDir(pub PathBuf);

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the copy directories in `tmp` of processes that no longer run. Those of a running
/// process are left alone, this one's included: its copies remove their own when they end
/// (a copy in progress may be using one).
pub fn remove_stale(tmp: &Path, own_pid: u32) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        if pid != own_pid && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The pid in a copy directory's name, `grproxy-copy-<pid>-<n>`.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_their_pid() {
        let cases = [
            ("grproxy-copy-123-0", Some(123)),
            ("grproxy-copy-9-17", Some(9)),
            ("grproxy-copy-123", None),
            ("grproxy-copy-x-1", None),
            ("grproxy-copy-12-y", None),
            ("grproxy-jepsen-abc", None),
            ("other-123-0", None),
        ];
        for (name, want) in cases {
            assert_eq!(owner_pid(name), want, "{name}");
        }
    }

    #[test]
    fn dead_processes_directories_go_and_live_ones_stay() {
        let tmp = std::env::temp_dir().join(format!("grproxy-stale-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        // pid_max is at most 2^22: no process has a larger pid.
        let dead = tmp.join(format!("{PREFIX}{}-0", (1u32 << 22) + 5));
        let own = tmp.join(format!("{PREFIX}{}-3", std::process::id()));
        let init = tmp.join(format!("{PREFIX}1-0"));
        let unrelated = tmp.join("grproxy-jepsen-x");
        for d in [&dead, &own, &init, &unrelated] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("client.cnf"), "[client]\n").unwrap();
        }
        remove_stale(&tmp, std::process::id());
        assert!(!dead.exists(), "a dead process's directory is removed");
        assert!(own.exists(), "this process's directories are its own to remove");
        assert!(init.exists(), "a running process's directory stays");
        assert!(unrelated.exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
