//! Telemetry: recent runtime events, rolling rates and recent errors, from the live [`RuntimeView`].
//!
//! Every message goes through [`sanitize::message`]: one line, no stack trace, no secret. Events never
//! carry chat text (the runtime records kinds such as `source_connected`, not messages).
//!
//! [`RuntimeView`]: crate::export::runtime_view::RuntimeView

use super::{Body, body};
use crate::export::{Inputs, timestamp};
use crate::sanitize;
use serde_json::{Value, json};

/// Most entries in events.json and errors.json (newest kept).
const TELEMETRY_MAX: usize = 200;

fn newest<T>(items: &[T]) -> &[T] {
    &items[items.len().saturating_sub(TELEMETRY_MAX)..]
}

pub(super) fn events(inputs: &Inputs<'_>) -> Body {
    let events: Vec<Value> = newest(&inputs.runtime.telemetry_events)
        .iter()
        .map(|e| {
            json!({
                "at": timestamp(e.at),
                "kind": e.kind,
                "subsystem": e.subsystem,
                "message": sanitize::message(&e.message),
            })
        })
        .collect();
    body(json!({"events": events}))
}

pub(super) fn rates(inputs: &Inputs<'_>) -> Body {
    let windows: Vec<Value> = inputs
        .runtime
        .rates
        .iter()
        .map(|w| {
            // Rates are rounded to 3 decimals so float noise cannot make an unchanged file churn.
            let rates: serde_json::Map<String, Value> = w
                .rates
                .iter()
                .map(|(k, v)| (k.clone(), json!((v * 1000.0).round() / 1000.0)))
                .collect();
            json!({"window_s": w.window_s, "rates": rates, "totals": w.totals})
        })
        .collect();
    body(json!({"running": inputs.runtime.running(), "windows": windows}))
}

pub(super) fn errors(inputs: &Inputs<'_>) -> Body {
    let errors: Vec<Value> = newest(&inputs.runtime.telemetry_errors)
        .iter()
        .map(|e| {
            json!({
                "at": timestamp(e.at),
                "error_type": e.error_type,
                "subsystem": e.subsystem,
                "message": sanitize::message(&e.message),
            })
        })
        .collect();
    body(json!({"errors": errors}))
}
