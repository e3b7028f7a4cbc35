//! One extension's child process: started with an empty environment plus the variables its
//! declaration allows, in its working directory, in a process group of its own, with its memory
//! (RLIMIT_AS) and CPU-time (RLIMIT_CPU) limits set between fork and exec, killed when dropped
//! (and, on Linux, when `ss` dies). Its stderr goes to the log through [`super::stderr`].

use crate::config::model::ExtensionDef;
use std::path::Path;
use std::process::Stdio;
use tokio::process::{Child, ChildStdin, ChildStdout};

/// A started child and its pipes.
pub struct Started {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
}

/// Starts `def`'s command under `root`.
pub fn spawn(def: &ExtensionDef, root: &Path) -> std::io::Result<Started> {
    let (program, args) = def
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::other("the command is empty"))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .current_dir(
            def.cwd
                .as_ref()
                .map_or_else(|| root.to_path_buf(), |d| root.join(d)),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    for name in &def.env {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    let memory = def.memory_mb.map(|mb| mb.saturating_mul(1024 * 1024));
    let cpu = def.cpu_s;
    // SAFETY: the closure runs in the child between fork and exec and makes only async-signal-safe
    // system calls (setrlimit, prctl); it allocates nothing and touches no lock.
    unsafe {
        cmd.pre_exec(move || {
            use rustix::process::{Resource, Rlimit, setrlimit};
            if let Some(bytes) = memory {
                let limit = Rlimit {
                    current: Some(bytes),
                    maximum: Some(bytes),
                };
                setrlimit(Resource::As, limit).map_err(std::io::Error::from)?;
            }
            if let Some(seconds) = cpu {
                // The soft limit sends SIGXCPU, the hard one a second later SIGKILL.
                let limit = Rlimit {
                    current: Some(seconds),
                    maximum: Some(seconds + 1),
                };
                setrlimit(Resource::Cpu, limit).map_err(std::io::Error::from)?;
            }
            #[cfg(target_os = "linux")]
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's pipes were not opened"));
    };
    tokio::spawn(super::stderr::log(def.name.clone(), stderr));
    Ok(Started {
        child,
        stdin,
        stdout,
    })
}
