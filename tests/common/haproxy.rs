//! HAProxy from Debian (`apt-get install -y haproxy`; tests/run.sh installs it, no system service
//! is started) in front of several daemons: round robin, health checks on `/readyz`, a retry on
//! another daemon when one refuses the connection. Started in the foreground from a
//! configuration in a temporary directory; stopped when dropped.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running balancer.
pub struct Haproxy {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Balance `port` on loopback over `daemons`.
    pub fn start(port: u16, daemons: &[SocketAddr]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let servers: String = daemons
            .iter()
            .enumerate()
            .map(|(n, addr)| format!("  server d{n} {addr} check inter 500ms fall 2 rise 1\n"))
            .collect();
        let config = format!(
            "global\n  maxconn 4096\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n  retries 2\n  option redispatch\n\
             frontend esignd\n  bind 127.0.0.1:{port}\n  default_backend daemons\n\
             backend daemons\n  balance roundrobin\n  option httpchk GET /readyz\n{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let check = Command::new("haproxy").arg("-c").arg("-f").arg(&path).output().expect("haproxy is installed");
        assert!(check.status.success(), "haproxy -c: {}", String::from_utf8_lossy(&check.stderr));
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts (apt-get install -y haproxy)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Haproxy { child, addr, _dir: dir }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
