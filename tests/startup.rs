//! Starting and stopping many servers, from several threads at once, never hangs: cores share no
//! connection handshake at start-up (their mailboxes exist before the executors start).

mod common;

use common::TestServer;

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
