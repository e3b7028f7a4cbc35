//! ARCHITECTURE.md's "Where each kind of change goes", held to the code.
//!
//! For each kind of change that recurs (a platform, an effect, an export, a notification
//! destination) the test knows the places one instance touches. It checks both directions: the
//! recipe in ARCHITECTURE.md names every one of those places (so the recipe lists every place), and
//! every instance the code has today fills every place (so a new platform, effect, export or
//! destination added without one of them fails here, naming what is missing).
//!
//! The instances are read from the running library where it can list them (the platform registry,
//! the export catalogue) and otherwise from the one exhaustive `match` that names them all
//! (`ActionKind::type_name`, `Destination::as_str`), which the compiler keeps complete.

use std::path::Path;

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn repo_has(rel: &str) -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).exists()
}

/// The text of one recipe: the bullet of ARCHITECTURE.md's last section that starts with `title`.
fn recipe(title: &str) -> String {
    let doc = repo_file("ARCHITECTURE.md");
    let section = doc
        .split("\n## Where each kind of change goes")
        .nth(1)
        .expect("ARCHITECTURE.md has its \"Where each kind of change goes\" section");
    let start = section
        .find(&format!("- **{title}**"))
        .unwrap_or_else(|| panic!("no recipe \"{title}\" in ARCHITECTURE.md"));
    let rest = &section[start + 2..];
    let end = rest.find("\n- **").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Fails listing every place `recipe` does not name.
fn recipe_names_every_place(title: &str, places: &[&str]) {
    let text = recipe(title);
    let missing: Vec<&&str> = places.iter().filter(|p| !text.contains(**p)).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's recipe \"{title}\" does not name {missing:?}; a change of this kind touches them"
    );
}

/// The names an exhaustive `match` in `file` maps its arms to: `Enum::Variant ... => "name"`.
fn names_in_match(file: &str, enum_name: &str) -> Vec<(String, String)> {
    let text = repo_file(file);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(&format!("{enum_name}::")) else {
            continue;
        };
        let Some((left, right)) = rest.split_once("=>") else {
            continue;
        };
        let variant: String = left
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let right = right.trim();
        if let Some(name) = right.strip_prefix('"').and_then(|r| r.split('"').next()) {
            out.push((variant, name.to_string()));
        }
    }
    assert!(
        !out.is_empty(),
        "no `{enum_name}::X => \"name\"` arms in {file}"
    );
    out
}

#[test]
fn every_platform_is_one_folder_with_its_registration_and_schema_parts() {
    recipe_names_every_place(
        "A new chat platform",
        &[
            "src/sources/<name>/platform.rs",
            "register_platform!",
            "creators_block.schema.json",
            "platforms_block.schema.json",
            "PlatformInfo",
            "PlatformConfig",
            "PlatformModule",
        ],
    );
    let readme = repo_file("README.md");
    let mut missing = Vec::new();
    for platform in ss::event::Platform::all() {
        let name = platform.as_str();
        let folder = format!("src/sources/{name}");
        let registration = format!("{folder}/platform.rs");
        if !repo_has(&registration) || !repo_file(&registration).contains("register_platform!") {
            missing.push(format!("{registration} registering the platform"));
        }
        for part in ["creators_block.schema.json", "platforms_block.schema.json"] {
            if !repo_has(&format!("{folder}/{part}")) {
                missing.push(format!("{folder}/{part}"));
            }
        }
        if !readme.contains(&format!("## {}", platform.title())) {
            missing.push(format!("a README section \"## {} ...\"", platform.title()));
        }
    }
    assert!(missing.is_empty(), "missing: {missing:#?}");
}

#[test]
fn every_effect_has_its_sink_route_and_documentation() {
    recipe_names_every_place(
        "A new effect of an action",
        &[
            "ActionKind",
            "src/effects/sinks/",
            "Router::route",
            "store::actions::apply",
        ],
    );
    let router = repo_file("src/effects/router.rs");
    let readme = repo_file("README.md");
    let mut missing = Vec::new();
    for (variant, name) in names_in_match("src/actions/mod.rs", "ActionKind") {
        if !router.contains(&format!("ActionKind::{variant}")) {
            missing.push(format!(
                "an arm for ActionKind::{variant} in src/effects/router.rs"
            ));
        }
        if !readme.contains(&format!("`{name}`")) {
            missing.push(format!("the action type `{name}` in the README"));
        }
    }
    assert!(missing.is_empty(), "missing: {missing:#?}");
}

#[test]
fn every_export_has_its_schema_and_documentation() {
    recipe_names_every_place(
        "A new export",
        &[
            "export/catalogue.rs",
            "schemas/exports/",
            "export/builders/",
        ],
    );
    let readme = repo_file("README.md");
    let mut missing = Vec::new();
    for entry in ss::export::catalogue::CATALOGUE {
        if ss::export::schemas::validator(entry.schema).is_none() {
            missing.push(format!(
                "the schema {} of {} in export/schemas.rs",
                entry.schema, entry.name
            ));
        }
        if !readme.contains(&format!("`{}`", entry.name)) {
            missing.push(format!("`{}` in the README's export table", entry.name));
        }
    }
    assert!(missing.is_empty(), "missing: {missing:#?}");
}

#[test]
fn every_notification_destination_has_its_sender_rule_and_documentation() {
    recipe_names_every_place(
        "A new notification destination",
        &[
            "routing::Destination",
            "routing/rules.rs",
            "notify::drain::Sender",
            "notify::start",
            "admin/integrations.json",
        ],
    );
    let senders: String =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/notify"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .collect();
    let rules = repo_file("src/routing/rules.rs");
    let readme = repo_file("README.md");
    for (variant, name) in names_in_match("src/routing/mod.rs", "Destination") {
        assert!(
            senders.contains("impl Sender for")
                && senders.contains(&format!("Destination::{variant}")),
            "a sender in src/notify/ delivers Destination::{variant}"
        );
        assert!(
            rules.contains(&format!("Destination::{variant}")),
            "routing/rules.rs has a rule for Destination::{variant}"
        );
        assert!(
            readme.to_lowercase().contains(&name.to_lowercase()),
            "the README documents the {name} destination"
        );
    }
}
