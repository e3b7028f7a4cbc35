//! `ss auth`: log a creator in on a platform without a browser on this machine, and list the
//! stored logins.
//!
//! `ss auth <platform> --creator ID [--scopes …]` hands the work to the platform's module
//! ([`crate::sources::registry::PlatformModule::login`]): it prints where to go and what code to
//! enter, waits for the approval, and stores the tokens in a 0600 file under `runtime/state/`.
//! `ss auth status` lists every stored credential (platform, creator, user, scopes, expiry), never
//! a token. Both read the root's config and `.env`; nothing printed holds a secret.

use super::{Format, Outcome, UsageError};
use crate::config::Config;
use crate::config::secrets::Secrets;
use crate::event::Platform;
use crate::sources::registry::{LoginError, LoginRequest, StoredCredential, module_of, modules};
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  \
    ss auth twitch --creator demo     log in (device code flow, every scope ss uses)\n  \
    ss auth twitch --creator demo --scopes user:read:chat,user:write:chat\n  \
    ss auth status                    list stored logins: user, scopes, expiry\n  \
    ss auth status --format json\n\n\
    The login prints an address and a code: open the address on any device, enter the code and\n\
    approve. The tokens go to runtime/state/<platform>/<creator>.token.json (mode 0600, replaced\n\
    atomically) and `ss run` uses and refreshes them. Tokens are never printed.\n\
    Exit codes: 0 logged in or listed, 2 unknown platform or creator, missing client id, refused or\n\
    expired login."
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<AuthCommand>,
    /// The platform to log in on (`twitch`).
    platform: Option<String>,
    /// The creator (from creators.json) whose login this is.
    #[arg(long)]
    creator: Option<String>,
    /// The scopes to ask for, comma-separated (default: every scope `ss` uses).
    #[arg(long, value_delimiter = ',')]
    scopes: Option<Vec<String>>,
}

#[derive(Debug, clap::Subcommand)]
enum AuthCommand {
    /// List the stored logins: platform, creator, user, scopes and expiry (never a token).
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub fn run(root: &Path, args: Args) -> anyhow::Result<Outcome> {
    let state_dir = root.join("runtime").join("state");
    match (args.command, args.platform) {
        (Some(AuthCommand::Status { format }), _) => status(&state_dir, format),
        (None, Some(platform)) => login(root, &platform, args.creator, args.scopes),
        (None, None) => Err(UsageError(
            "name a platform to log in on (`ss auth twitch --creator ID`) or ask for `ss auth status`"
                .into(),
        )
        .into()),
    }
}

fn login(
    root: &Path,
    platform: &str,
    creator: Option<String>,
    scopes: Option<Vec<String>>,
) -> anyhow::Result<Outcome> {
    let platform = Platform::parse(platform).map_err(|e| UsageError(e.to_string()))?;
    let creator = creator.ok_or_else(|| {
        UsageError(format!(
            "--creator is required: whose {platform} login is this? (`ss auth {platform} --creator ID`)"
        ))
    })?;
    let module =
        module_of(platform).ok_or_else(|| UsageError(format!("{platform} has no login to run")))?;
    let config = Config::load_without_logins(root)?;
    super::trust_tls(root, &config)?;
    let secrets = Secrets::load(root);
    let say = |line: &str| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let request = LoginRequest {
        config: &config,
        root,
        secrets: &secrets,
        creator: &creator,
        scopes: scopes.map(|s| {
            s.into_iter()
                .map(|scope| scope.trim().to_owned())
                .filter(|scope| !scope.is_empty())
                .collect()
        }),
        say: &say,
    };
    let Some(work) = module.login(request) else {
        return Err(UsageError(format!(
            "{platform} has no login through `ss auth`; see the README for its credentials"
        ))
        .into());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(work) {
        Ok(done) => {
            say(&done);
            Ok(Outcome::Success)
        }
        Err(LoginError::Usage(why)) => Err(UsageError(why).into()),
        Err(LoginError::Failed(why)) => Err(anyhow::anyhow!("{platform} login failed: {why}")),
    }
}

fn status(state_dir: &Path, format: Format) -> anyhow::Result<Outcome> {
    let stored: Vec<StoredCredential> = modules()
        .flat_map(|m| m.stored_credentials(state_dir))
        .collect();
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&stored)?)?,
        Format::Text if stored.is_empty() => writeln!(
            stdout,
            "no stored logins under {}; log in with `ss auth twitch --creator ID`",
            state_dir.display()
        )?,
        Format::Text => {
            for c in &stored {
                write_line(&mut stdout, c)?;
            }
        }
    }
    Ok(Outcome::Success)
}

fn write_line(out: &mut impl Write, c: &StoredCredential) -> std::io::Result<()> {
    if let Some(problem) = &c.problem {
        return writeln!(
            out,
            "{platform} {creator}: unusable ({problem}); log in again with `ss auth {platform} --creator {creator}`",
            platform = c.platform,
            creator = c.creator
        );
    }
    let expiry = match c.expires_at {
        Some(at) if at <= chrono::Utc::now() && c.refreshable => {
            format!("expired {} (refreshed on next use)", at.to_rfc3339())
        }
        Some(at) if at <= chrono::Utc::now() => format!("expired {}", at.to_rfc3339()),
        Some(at) => format!("expires {}", at.to_rfc3339()),
        None => "no expiry".to_owned(),
    };
    writeln!(
        out,
        "{platform} {creator}: user {user}; scopes {scopes}; {expiry}{refresh}; {file}",
        platform = c.platform,
        creator = c.creator,
        user = c.user.as_deref().unwrap_or("unknown"),
        scopes = if c.scopes.is_empty() {
            "none".to_owned()
        } else {
            c.scopes.join(" ")
        },
        refresh = if c.refreshable {
            ""
        } else {
            "; not refreshable"
        },
        file = c.file,
    )
}
