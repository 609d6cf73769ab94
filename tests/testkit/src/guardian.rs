//! Runs a server under a small `sh` guardian that stops it (and deletes its directory) when the
//! guardian's stdin closes: on drop, or when the test process exits for any reason, since the
//! kernel closes the process's end of the pipe. So no server ever outlives its tests. It must
//! never kill anything but the one server it started, by its pid.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// `$1` the directory, `$2` the signal that stops the server, the rest the server command.
/// The server runs in the directory, logging to `server.log`, until stdin closes; its pid goes
/// to stdout so an early exit is seen at once.
const SCRIPT: &str = r#"dir=$1; sig=$2; shift 2
"$@" </dev/null >"$dir/server.log" 2>&1 &
pid=$!
echo "$pid"
exec >/dev/null
cat >/dev/null
kill "-$sig" "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir""#;

/// A server under its guardian; dropping it stops the server and waits until it has.
pub(crate) struct Guarded {
    keepalive: Option<ChildStdin>,
    shell: Child,
    dir: PathBuf,
    pid: u32,
}

impl Guarded {
    /// Starts `server` (its program, arguments and environment) in `dir`, which the guardian
    /// deletes once the server has stopped.
    pub(crate) fn spawn(server: &Command, dir: &Path, signal: &str) -> Result<Guarded, String> {
        let mut shell = Command::new("sh");
        shell
            .args([OsString::from("-c"), SCRIPT.into(), "sh".into()])
            .arg(dir)
            .arg(signal)
            .arg(server.get_program())
            .args(server.get_args())
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in server.get_envs() {
            match value {
                Some(value) => shell.env(key, value),
                None => shell.env_remove(key),
            };
        }
        let mut shell = shell.spawn().map_err(|e| {
            let _ = std::fs::remove_dir_all(dir);
            format!("cannot run sh: {e}")
        })?;
        let mut guarded = Guarded {
            keepalive: shell.stdin.take(),
            dir: dir.to_owned(),
            pid: 0,
            shell,
        };
        let mut line = String::new();
        if let Some(stdout) = guarded.shell.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        guarded.pid = line.trim().parse().map_err(|_| {
            format!(
                "the guardian shell did not start {:?}",
                server.get_program()
            )
        })?;
        Ok(guarded)
    }

    /// Whether the server has exited (Linux `/proc`; elsewhere it is assumed alive, and a dead
    /// server is only noticed when waiting for it times out).
    pub(crate) fn exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            // A zombie (not yet reaped by the guardian) or gone (reaped).
            Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| {
                matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))
            }),
            Err(_) => Path::new("/proc/self").exists(),
        }
    }

    /// What the server has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        drop(self.keepalive.take());
        let _ = self.shell.wait();
    }
}

/// A fresh directory for one server, kept until its guardian deletes it.
pub(crate) fn server_dir(prefix: &str) -> Result<PathBuf, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map(tempfile::TempDir::keep)
        .map_err(|e| format!("temp dir: {e}"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what} did not happen within 10s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn dropping_the_guard_stops_the_server_and_deletes_its_directory() {
        let dir = server_dir("slipway-guardian-").unwrap();
        let mut server = Command::new("sleep");
        server.arg("600");
        let guard = Guarded::spawn(&server, &dir, "TERM").unwrap();
        let pid = guard.pid;
        assert!(!guard.exited());
        drop(guard);
        assert!(!dir.exists());
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn an_early_exit_is_seen_with_the_log() {
        let dir = server_dir("slipway-guardian-").unwrap();
        let mut server = Command::new("sh");
        server
            .args(["-c", "echo \"no port for $NAME\"; exit 3"])
            .env("NAME", "you");
        let guard = Guarded::spawn(&server, &dir, "TERM").unwrap();
        eventually("the exit", || guard.exited());
        assert_eq!(guard.log(), "no port for you\n");
    }
}
