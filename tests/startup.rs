//! Starting and stopping many servers, from several threads at once, never hangs: cores share no
//! connection handshake at start-up (their mailboxes exist before the executors start).

mod common;

use common::{temp_data_dir, ChildServer, TestServer};

#[test]
fn concurrent_starts_and_stops_never_hang() {
    let workers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..150 {
                    let server = TestServer::start(4);
                    let pong: String = redis::cmd("PING")
                        .query(&mut server.connection())
                        .expect("PING");
                    assert_eq!(pong, "PONG");
                    server.stop();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
}

/// `disable-thp yes` (the default, as Redis) turns transparent huge pages off for the process;
/// `disable-thp no` leaves them to the host (the kernel shows it as `THP_enabled` in status).
#[test]
fn disable_thp_sets_the_process_flag() {
    let thp_enabled = |server: &ChildServer| {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
            .expect("process status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("THP_enabled:"))
            .map(|value| value.trim() == "1")
    };
    let dir = temp_data_dir();
    let server = ChildServer::start(&dir, 1, &[]);
    let default = thp_enabled(&server);
    server.kill9();
    let server = ChildServer::start(&dir, 1, &[("disable-thp", "no")]);
    let allowed = thp_enabled(&server);
    server.kill9();
    let _ = std::fs::remove_dir_all(dir);
    // Kernels before 5.0 have no THP_enabled line: nothing to check there.
    if let (Some(default), Some(allowed)) = (default, allowed) {
        assert!(
            !default,
            "huge pages still enabled with the default disable-thp yes"
        );
        // Without THP in the kernel the flag reads 0 whatever the process asked.
        if std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            assert!(allowed, "disable-thp no did not give huge pages back");
        }
    }
}
