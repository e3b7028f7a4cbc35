//! Opening the store for a run: the store writer (the only one that migrates), the reader pool
//! everything else reads through, and the [`Core`] seeded with the ids the store already holds, so a
//! platform re-delivering them after a restart fires nothing again, and with the moderation strikes
//! it kept, so a restart does not forgive a spammer. A run mark is recorded before
//! the first event: `ss replay` starts its trigger state afresh there, as the run does.

use super::process::run_mark;
use crate::config::Config;
use crate::engine::Core;
use crate::store::{Readers, RunMarkKind, StoreWriter};
use crate::triggers::Registry;
use crate::triggers::moderation::ModerationRegistry;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Capacity of the store writer's queue, in ops (and at most `store::writer::QUEUE_BYTES` bytes):
/// about 8 ms of work at 500 k events/s. Policy when full: block. The run loop waits
/// (backpressure), and the data lane in front of it absorbs bursts and then drops, counted.
pub const WRITER_CAPACITY: usize = 4_096;

/// The store of a run, open.
pub struct OpenStore {
    pub db: PathBuf,
    pub writer: StoreWriter,
    pub readers: Readers,
    /// The evaluation core over the config's filters and triggers, remembering the store's recent
    /// message ids and strikes.
    pub core: Core,
}

/// Opens (creating and migrating) the store below `root` and records the run's start.
pub async fn open_store(root: &Path, config: &Config) -> anyhow::Result<OpenStore> {
    let db = crate::store::db_path(root);
    let writer = StoreWriter::start(&db, WRITER_CAPACITY)
        .await
        .with_context(|| format!("opening the store {}", db.display()))?;
    // Everything else reads through the pool, on the blocking pool: never SQLite on async threads.
    let readers = Readers::new(&db);
    let window = config.system.limits.dedupe_window;
    let mut core = Core::new(Registry::compile(&config.triggers)?, window)
        .with_moderation(ModerationRegistry::compile(&config.moderation)?);
    // Strikes outlive a run: a restart does not forgive a spammer.
    core.seed_strikes(
        readers
            .read(|store| store.strike_records(None))
            .await
            .and_then(|strikes| strikes)
            .with_context(|| format!("reading moderation strikes from {}", db.display()))?,
    );
    core.remember(
        readers
            .read(move |store| store.recent_message_keys(window))
            .await
            .and_then(|keys| keys)
            .with_context(|| format!("reading recent message ids from {}", db.display()))?,
    );
    writer
        .send(run_mark(RunMarkKind::Start))
        .await
        .with_context(|| format!("recording the run start in {}", db.display()))?;
    Ok(OpenStore {
        db,
        writer,
        readers,
        core,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Author, ChatEvent, Platform};
    use crate::store::{StoreReader, WriteOp};

    fn config(root: &Path) -> Config {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("runtime/config");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(repo.join("runtime/config")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        Config::load(root).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_run_remembers_the_first_runs_ids_and_marks_its_start() {
        let root = tempfile::tempdir().unwrap();
        let config = config(root.path());
        let seen = ChatEvent::message(
            Platform::named("sim"),
            "demo",
            "m-1",
            chrono::Utc::now(),
            Author::viewer("ann"),
            "hi",
        );
        let first = open_store(root.path(), &config).await.unwrap();
        first
            .writer
            .send(WriteOp::ChatEvent(Box::new(seen.clone())))
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || first.writer.close().unwrap())
            .await
            .unwrap();

        let mut second = open_store(root.path(), &config).await.unwrap();
        assert_eq!(
            second.core.evaluate(&seen),
            None,
            "a re-delivery after a restart is a duplicate"
        );
        let writer = second.writer;
        tokio::task::spawn_blocking(move || writer.close().unwrap())
            .await
            .unwrap();
        let marks = StoreReader::open(&second.db).unwrap().run_marks().unwrap();
        assert_eq!(marks.len(), 2, "one run mark per start: {marks:?}");
        assert_eq!(marks[1].after_chat_id, 1, "after the first run's event");
    }
}
