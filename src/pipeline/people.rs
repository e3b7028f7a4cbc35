//! Linked accounts at the start of `ss run`: the links creators.json declares are synced into the
//! store, then every link the store holds is loaded into the engine (see `triggers::people`).
//!
//! Both go through the store so there is one record of who is linked, and `ss replay` loads the
//! same links at the same run mark.

use crate::actions::community::{LinkEntry, LinkedAccount};
use crate::config::Config;
use crate::event::person::declared_person_id;
use crate::store::{DeclaredPerson, Readers, StoreError, StoreWriter, WriteOp};
use chrono::Utc;

/// The people creators.json declares, per creator (every creator, so a withdrawn declaration is
/// undone).
pub fn declared(config: &Config) -> Vec<(String, Vec<DeclaredPerson>)> {
    config
        .creators
        .creators
        .iter()
        .map(|creator| {
            let people = creator
                .links
                .iter()
                .map(|link| DeclaredPerson {
                    person: declared_person_id(&link.name),
                    accounts: link
                        .accounts
                        .iter()
                        .map(|(platform, user_id)| LinkedAccount {
                            platform: *platform,
                            user_id: user_id.clone(),
                            user_name: link.name.clone(),
                        })
                        .collect(),
                })
                .collect();
            (creator.id.clone(), people)
        })
        .collect()
}

/// Syncs the declared links (after the run mark just sent) and reads every link back once they are
/// committed.
pub async fn sync_and_load(
    config: &Config,
    writer: &StoreWriter,
    readers: &Readers,
) -> anyhow::Result<Vec<LinkEntry>> {
    for (creator, people) in declared(config) {
        writer
            .send(WriteOp::DeclaredLinks {
                creator,
                people,
                at: Utc::now(),
            })
            .await?;
    }
    writer.flush().await?;
    let links = readers
        .read(|store| store.links())
        .await
        .and_then(|links| links)
        .map_err(|e: StoreError| anyhow::Error::new(e).context("reading the linked accounts"))?;
    Ok(links.into_iter().map(|l| l.entry()).collect())
}
