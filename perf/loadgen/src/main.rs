//! shardis-loadgen: a PHP-FPM-style load generator. W OS threads, each doing, until the duration
//! is up: connect (to the next of several loopback addresses), optional AUTH and SELECT, one or
//! two commands on a random key, each reply read and checked before the next command, close.
//! Prints one JSON line on stdout and a human summary on stderr: requests/s, connect-to-reply
//! latency percentiles (µs) and error counts. See perf/README.md and /work/shared/PERF-METHOD.md.

mod args;
mod proto;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.workers)
        .map(|id| {
            let args = args.clone();
            let stop = stop.clone();
            std::thread::spawn(move || worker::run(id, &args, &stop))
        })
        .collect();
    std::thread::sleep(args.duration);
    stop.store(true, Ordering::Relaxed);
    let mut total = worker::Tally::default();
    for handle in workers {
        match handle.join() {
            Ok(tally) => total.merge(tally),
            Err(_) => {
                eprintln!("a worker panicked");
                std::process::exit(1);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    report(&args, &mut total, elapsed);
    if total.requests == 0 {
        std::process::exit(1);
    }
}

fn report(args: &args::Args, total: &mut worker::Tally, elapsed: f64) {
    total.latencies_us.sort_unstable();
    let at = |q: f64| -> u64 {
        let l = &total.latencies_us;
        if l.is_empty() {
            return 0;
        }
        l[((l.len() as f64 * q).ceil() as usize).clamp(1, l.len()) - 1]
    };
    let rps = total.requests as f64 / elapsed;
    let errors = total.connect_errors + total.io_errors + total.bad_replies;
    println!(
        "{{\"protocol\":\"{:?}\",\"commands\":\"{:?}\",\"workers\":{},\"hosts\":{},\"elapsed_s\":{:.3},\
\"requests\":{},\"rps\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\
\"errors\":{},\"connect_errors\":{},\"io_errors\":{},\"bad_replies\":{}}}",
        args.protocol,
        args.commands,
        args.workers,
        args.hosts.len(),
        elapsed,
        total.requests,
        rps,
        at(0.50),
        at(0.99),
        at(0.999),
        total.latencies_us.last().copied().unwrap_or(0),
        errors,
        total.connect_errors,
        total.io_errors,
        total.bad_replies
    );
    eprintln!(
        "{} requests in {:.1} s = {:.0} req/s; connect-to-reply p50 {} us, p99 {} us, p99.9 {} us; \
{} errors ({} connect, {} io, {} bad replies)",
        total.requests,
        elapsed,
        rps,
        at(0.50),
        at(0.99),
        at(0.999),
        errors,
        total.connect_errors,
        total.io_errors,
        total.bad_replies
    );
}
