//! The audit of moderation commands: how each was settled (sent with the platform's answer,
//! failed with the reason, abandoned), as the sources' serving loops report it in their receipts,
//! recorded in the store beside the decision it belongs to. The task ends when the last serving
//! loop has dropped its sender.

use crate::command::receipts::Receipt;
use crate::store::{ModerationOutcome, StoreWriter, WriteOp};
use tokio::sync::mpsc;

/// Records how moderation commands were settled until the last serving loop stops.
pub async fn record_receipts(mut receipts: mpsc::Receiver<Receipt>, writer: StoreWriter) {
    while let Some(receipt) = receipts.recv().await {
        let outcome = ModerationOutcome {
            platform: receipt.platform,
            message_id: crate::event::id_of_cause(receipt.platform, &receipt.cause).to_owned(),
            command: receipt.command.as_str().to_owned(),
            state: receipt.outcome.state().to_owned(),
            answer: receipt.outcome.answer().map(str::to_owned),
            at: receipt.at,
        };
        if writer
            .send(WriteOp::ModerationOutcome(Box::new(outcome)))
            .await
            .is_err()
        {
            return;
        }
    }
}
