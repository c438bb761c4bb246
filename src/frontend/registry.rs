//! Live sessions, by connection id (the id in their greeting, which is their mysqld thread's):
//! which session a successful `KILL CONNECTION <id>` ended, and the connection limits.
//! A plain mutex, never held across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::Notify;

use crate::replication::applier::LocalSessions;
use crate::replication::txn::TableName;

use super::errors::ClientError;

#[derive(Default)]
struct Inner {
    next_id: u32,
    sessions: HashMap<u32, Entry>,
    per_user: HashMap<String, u32>,
}

#[derive(Clone)]
struct Entry {
    backend_id: u32,
    killed: Arc<Notify>,
    control: Arc<SessionControl>,
}

/// What the replication applier may do to a session whose open transaction blocks a
/// certified remote transaction (brute-force abort).
#[derive(Default)]
pub struct SessionControl {
    /// Set by the applier: roll the open transaction back and answer 1213.
    pub bf_abort: AtomicBool,
    /// Wakes an idle session so it rolls back at once.
    pub wake: Notify,
    /// 0 idle, 1 a statement is at mysqld, 2 committing a certified transaction.
    pub phase: AtomicU8,
    /// A transaction is open on the session's connection.
    pub in_txn: AtomicBool,
    /// Tables written by the open transaction.
    pub tables: Mutex<Vec<TableName>>,
}

pub const PHASE_IDLE: u8 = 0;
pub const PHASE_BUSY: u8 = 1;
pub const PHASE_COMMITTING: u8 = 2;

/// Shared registry of sessions.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
}

/// A session's place in the registry; removes itself on drop.
pub struct Registration {
    registry: Registry,
    pub id: u32,
    pub killed: Arc<Notify>,
    pub control: Arc<SessionControl>,
}

/// A counted login of one user; released on drop.
pub struct UserSlot {
    registry: Registry,
    user: String,
}

impl Registry {
    /// A fresh number for a connection's log lines until it has a mysqld thread id (never 0,
    /// skipping ids in use).
    pub fn next_id(&self) -> u32 {
        let mut g = self.inner.lock().unwrap();
        loop {
            g.next_id = g.next_id.wrapping_add(1);
            if g.next_id != 0 && !g.sessions.contains_key(&g.next_id) {
                return g.next_id;
            }
        }
    }

    /// Publishes an authenticated session (`id`: its greeting's id, its mysqld thread's) so a
    /// KILL can reach it.
    pub fn register(&self, id: u32, backend_id: u32) -> Registration {
        let killed = Arc::new(Notify::new());
        let control = Arc::new(SessionControl::default());
        let entry = Entry {
            backend_id,
            killed: killed.clone(),
            control: control.clone(),
        };
        self.inner.lock().unwrap().sessions.insert(id, entry);
        Registration {
            registry: self.clone(),
            id,
            killed,
            control,
        }
    }

    /// A handle to tell session `id` that mysqld killed its connection.
    pub fn lookup(&self, id: u64) -> Option<Arc<Notify>> {
        let id = u32::try_from(id).ok()?;
        let g = self.inner.lock().unwrap();
        g.sessions.get(&id).map(|e| e.killed.clone())
    }

    pub fn session_count(&self) -> usize {
        self.inner.lock().unwrap().sessions.len()
    }

    /// Counts a login of `user`, unless that would exceed `limit` (0 = unlimited).
    pub fn acquire_user(&self, user: &str, limit: u32) -> Result<UserSlot, ClientError> {
        let mut g = self.inner.lock().unwrap();
        let n = g.per_user.entry(user.to_string()).or_insert(0);
        if limit > 0 && *n >= limit {
            return Err(ClientError::TooManyUserConnections(user.to_string()));
        }
        *n += 1;
        Ok(UserSlot {
            registry: self.clone(),
            user: user.to_string(),
        })
    }
}

impl LocalSessions for Registry {
    fn brute_force(&self, tables: &[TableName], all: bool) -> Vec<u32> {
        let g = self.inner.lock().unwrap();
        let mut busy = Vec::new();
        for e in g.sessions.values() {
            let c = &e.control;
            if !c.in_txn.load(Ordering::Acquire) || c.phase.load(Ordering::Acquire) == PHASE_COMMITTING {
                continue;
            }
            let overlaps = all || c.tables.lock().unwrap().iter().any(|t| tables.contains(t));
            if !overlaps {
                continue;
            }
            c.bf_abort.store(true, Ordering::Release);
            c.wake.notify_one();
            if c.phase.load(Ordering::Acquire) == PHASE_BUSY {
                busy.push(e.backend_id);
            }
        }
        busy
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Only its own entry: a later session may hold the same id.
        let mut g = self.registry.inner.lock().unwrap();
        if g.sessions
            .get(&self.id)
            .is_some_and(|e| Arc::ptr_eq(&e.control, &self.control))
        {
            g.sessions.remove(&self.id);
        }
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut g = self.registry.inner.lock().unwrap();
        if let Some(n) = g.per_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                g.per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_lookups_follow_registration() {
        let r = Registry::default();
        let a = r.next_id();
        let b = r.next_id();
        assert_ne!(a, b);
        let reg = r.register(a, 900);
        assert!(r.lookup(a as u64).is_some());
        assert!(r.lookup(b as u64).is_none());
        assert!(r.lookup(u64::MAX).is_none());
        drop(reg);
        assert!(r.lookup(a as u64).is_none());
    }

    #[test]
    fn a_stale_registration_leaves_a_newer_one_with_the_same_id() {
        let r = Registry::default();
        let old = r.register(77, 77);
        let new = r.register(77, 77);
        drop(old);
        assert!(r.lookup(77).is_some());
        drop(new);
        assert!(r.lookup(77).is_none());
    }

    #[test]
    fn per_user_limit() {
        let r = Registry::default();
        let s1 = r.acquire_user("bob", 2).unwrap();
        let _s2 = r.acquire_user("bob", 2).unwrap();
        assert_eq!(
            r.acquire_user("bob", 2).err(),
            Some(ClientError::TooManyUserConnections("bob".into()))
        );
        assert!(r.acquire_user("alice", 2).is_ok());
        drop(s1);
        assert!(r.acquire_user("bob", 2).is_ok());
        assert!(r.acquire_user("carol", 0).is_ok());
    }
}
