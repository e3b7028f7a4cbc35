//! `ss validate-config`.

use crate::harness::Test;

#[test]
fn shipped_demo_config_is_valid() {
    let t = Test::new();
    let out = t.run(&["validate-config"]);
    out.status(0);
    assert_eq!(out.stdout, "ok: 6 config files valid\n");
}
