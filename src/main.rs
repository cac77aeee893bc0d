//! `shardis [path/to/shardis.conf] [--directive value ...]`, like redis-server.

use std::io::IsTerminal;
use std::process::ExitCode;

use shardis::config::Config;
use shardis::server::{self, ControlEvent};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc malloc: every request allocates and frees small buffers, and glibc's
/// free showed up at about 8% of server CPU under pipelined load (redis-server uses jemalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// `mi_option_allow_thp` in mimalloc 3's mimalloc.h.
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn main() -> ExitCode {
    // mimalloc gives freed memory back to the OS only after a delay (10 ms), counted during later
    // allocations: a shard that grew its tables while loading data and then went quiet kept
    // every old table in RSS (1M SETs: 276 bytes of RSS per key instead of 144). Purging at once
    // showed no cost in CPU per request (perf/RESULTS.md).
    // SAFETY: setting an option of the allocator in use; mimalloc documents it as allowed at any
    // time. 15 is mi_option_purge_delay in mimalloc 2 and 3 (the crate has no constant for it).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
    // No transparent huge pages, as Redis (`disable-thp yes`, its default, and its docs' advice;
    // `disable-thp no` undoes this once the configuration is read). mimalloc 3
    // madvises its arenas MADV_HUGEPAGE, so on a host with THP in `madvise` mode the heap grew
    // in 2 MiB pages: about 15 bytes of RSS more per key for 300k keys, and 2 MiB at the first
    // load. The prctl also covers the arena reserved before this line ran.
    // SAFETY: as above for the option; the prctl takes no pointers and only sets a process flag.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Subcommands, like redis-check-aof but in the one binary.
    match args.first().map(String::as_str) {
        Some("restore") => return exit_code(shardis::binlog::restore::run(&args[1..])),
        Some("check-binlog") => return exit_code(shardis::binlog::check::run(&args[1..])),
        _ => {}
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("Usage: shardis [/path/to/shardis.conf] [--directive value ...]");
        println!(
            "       shardis restore --from <data dir> --to <datetime | unix ms> --out <new dir>"
        );
        println!("       shardis check-binlog [--fix] <binlog segment>");
        println!("       shardis --version");
        println!("Directives are those of tuning/shardis.conf, e.g. --port 6380 --threads 2");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("shardis v={}", server::VERSION);
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("\n*** FATAL CONFIG ERROR ***\n{}", error);
            return ExitCode::FAILURE;
        }
    };
    if !config.disable_thp {
        // `disable-thp no`: give the heap back its transparent huge pages (undoing the above).
        // SAFETY: as above.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 1);
            libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
        }
    }
    // The filter sits behind a reload handle so that CONFIG SET loglevel applies at once.
    let (filter, reload) =
        tracing_subscriber::reload::Layer::new(EnvFilter::new(config.loglevel.tracing_filter()));
    let registry = tracing_subscriber::registry().with(filter);
    if config.logfile.is_empty() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .init();
    } else {
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
        {
            Ok(file) => file,
            Err(error) => {
                eprintln!("Can't open the log file '{}': {}", config.logfile, error);
                return ExitCode::FAILURE;
            }
        };
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .init();
    }
    shardis::logging::set_level_hook(Box::new(move |level| {
        let _ = reload.reload(EnvFilter::new(level));
    }));
    if let Err(error) = std::fs::create_dir_all(&config.dir) {
        eprintln!(
            "Can't create the data directory '{}': {}",
            config.dir.display(),
            error
        );
        return ExitCode::FAILURE;
    }
    let config_file = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_default();
    let handle = match server::start_with_file(config, config_file) {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("{}", error);
            return ExitCode::FAILURE;
        }
    };
    let control = handle.control();
    match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    let _ = control.send(ControlEvent::Shutdown);
                }
            });
        }
        Err(error) => eprintln!("could not install signal handlers: {}", error),
    }
    if handle.wait() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
