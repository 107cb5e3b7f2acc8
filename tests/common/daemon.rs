//! Starting `esignd serve` as an operator would, on a token made by softhsm/make-token, and
//! reading its JSON log as it comes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::TokenDir;

/// `esignd --config <the token's config>` with JSON logs.
pub fn esignd(token: &TokenDir) -> Command {
    let mut command = token.command(env!("CARGO_BIN_EXE_esignd"));
    command.arg("--config").arg(token.config()).env("ESIGND__LOG__FORMAT", "json");
    command
}

/// A running daemon whose JSON log lines are collected as they come.
pub struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every log line read so far.
    pub seen: Vec<String>,
}

impl Daemon {
    pub fn start(token: &TokenDir) -> Self {
        Self::start_with(esignd(token))
    }

    pub fn start_with(mut command: Command) -> Self {
        let mut child = command.arg("serve").stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Wait for a log line whose message is `message`; return it as JSON.
    pub fn wait_for(&mut self, message: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line.clone());
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                && json["message"] == message
            {
                return json;
            }
        }
        panic!("no '{message}' log line; the daemon said:\n{}", self.seen.join("\n"));
    }

    /// Every log line so far, for failure messages.
    pub fn log(&mut self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }

    pub fn listening_on(&mut self) -> SocketAddr {
        self.wait_for("serving")["listen"].as_str().unwrap().parse().unwrap()
    }

    /// Where the operator's listener (`/metrics`, `/readyz`) is.
    #[allow(dead_code)] // not every test binary scrapes
    pub fn ops_on(&mut self) -> SocketAddr {
        const OPS: &str = "operator listener (/metrics, /readyz)";
        let seen = self.seen.iter().find_map(|line| {
            serde_json::from_str::<serde_json::Value>(line).ok().filter(|json| json["message"] == OPS)
        });
        let line = seen.unwrap_or_else(|| self.wait_for(OPS));
        line["listen"].as_str().unwrap().parse().unwrap()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Read to the end of its stderr: the reader thread may still be passing on the
                // last lines, and it hangs up at end of file.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
                    self.seen.push(line);
                }
                return status.code();
            }
            assert!(Instant::now() < deadline, "the daemon did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
