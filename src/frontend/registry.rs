//! Live sessions, by proxy connection id: what `KILL <id>` maps to, and the connection limits.
//! A plain mutex, never held across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

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
}

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
}

/// A counted login of one user; released on drop.
pub struct UserSlot {
    registry: Registry,
    user: String,
}

impl Registry {
    /// A fresh proxy connection id (never 0, skipping ids in use).
    pub fn next_id(&self) -> u32 {
        let mut g = self.inner.lock().unwrap();
        loop {
            g.next_id = g.next_id.wrapping_add(1);
            if g.next_id != 0 && !g.sessions.contains_key(&g.next_id) {
                return g.next_id;
            }
        }
    }

    /// Publishes an authenticated session so KILL can reach it.
    pub fn register(&self, id: u32, backend_id: u32) -> Registration {
        let killed = Arc::new(Notify::new());
        let entry = Entry {
            backend_id,
            killed: killed.clone(),
        };
        self.inner.lock().unwrap().sessions.insert(id, entry);
        Registration {
            registry: self.clone(),
            id,
            killed,
        }
    }

    /// Backend thread id of proxy session `id`, and a handle to tell that session it was killed.
    pub fn lookup(&self, id: u64) -> Option<(u32, Arc<Notify>)> {
        let id = u32::try_from(id).ok()?;
        let g = self.inner.lock().unwrap();
        g.sessions.get(&id).map(|e| (e.backend_id, e.killed.clone()))
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

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.inner.lock().unwrap().sessions.remove(&self.id);
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
        assert_eq!(r.lookup(a as u64).map(|x| x.0), Some(900));
        assert!(r.lookup(b as u64).is_none());
        assert!(r.lookup(u64::MAX).is_none());
        drop(reg);
        assert!(r.lookup(a as u64).is_none());
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
