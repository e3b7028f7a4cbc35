//! Store reads for async code: a small pool of [`StoreReader`] connections, used on tokio's
//! blocking pool so no SQLite call ever runs on an async runtime thread.
//!
//! SQLite calls block (a query over a large table, a busy wait on a lock), and a blocked runtime
//! thread stalls every task scheduled on it: the sources' reads, the run loop. So async code
//! (notify's senders, the clip worker and its jobs, the exporter, the standings worker, `ss run`'s
//! start-up) reads through [`Readers::read`], which runs its closure with a pooled connection inside
//! `spawn_blocking`. Connections are opened on first use and kept ([`IDLE_MAX`] at most), so a
//! store that cannot be read is reported by the read that needed it, and tried again by the next.

use super::error::StoreError;
use super::open::StoreReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Idle connections kept for the next read; more are opened while reads overlap.
pub const IDLE_MAX: usize = 4;

/// Read-only connections to one store; clone freely (clones share the pool).
#[derive(Debug, Clone)]
pub struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<StoreReader>>>,
}

impl Readers {
    /// A pool for the store at `path`; nothing is opened yet.
    pub fn new(path: &Path) -> Readers {
        Readers {
            path: Arc::new(path.to_path_buf()),
            idle: Arc::default(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `read` with a connection on the blocking pool. Opening the connection can fail (the
    /// store missing, at another schema version); what `read` returns is the caller's.
    pub async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&StoreReader) -> T + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.read_blocking(read))
            .await
            .map_err(|e| StoreError::Io {
                path: self.path.to_path_buf(),
                source: std::io::Error::other(format!("a store read did not finish: {e}")),
            })?
    }

    /// [`Readers::read`] on the calling thread, for code already off the async threads.
    pub fn read_blocking<T>(&self, read: impl FnOnce(&StoreReader) -> T) -> Result<T, StoreError> {
        let reader = match self.take() {
            Some(reader) => reader,
            None => StoreReader::open(&self.path)?,
        };
        let out = read(&reader);
        self.put_back(reader);
        Ok(out)
    }

    fn take(&self) -> Option<StoreReader> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    fn put_back(&self, reader: StoreReader) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_MAX {
            idle.push(reader);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreWriter, WriteOp, db_path};

    #[tokio::test(flavor = "current_thread")]
    async fn reads_run_off_the_runtime_thread_and_reuse_their_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let readers = Readers::new(&path);
        // No store yet: the read says so, and the next one tries again.
        let err = readers.read(|r| r.chat_event_count()).await.unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
        let writer = StoreWriter::spawn(&path, 8).unwrap();
        writer
            .send(WriteOp::Audit {
                at: chrono::Utc::now(),
                action: "test".into(),
                detail: "one".into(),
            })
            .await
            .unwrap();
        writer.flush().await.unwrap();
        let runtime_thread = std::thread::current().id();
        let (thread, audit) = readers
            .read(|r| (std::thread::current().id(), r.audit(10)))
            .await
            .unwrap();
        assert_ne!(thread, runtime_thread, "the read ran on the blocking pool");
        assert_eq!(audit.unwrap().len(), 1);
        assert_eq!(
            readers.idle.lock().unwrap().len(),
            1,
            "kept for the next read"
        );
        readers.read(|_| ()).await.unwrap();
        assert_eq!(readers.idle.lock().unwrap().len(), 1, "and reused");
        tokio::task::spawn_blocking(move || writer.close())
            .await
            .unwrap()
            .unwrap();
    }
}
