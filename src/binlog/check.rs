//! `shardis check-binlog [--fix] <segment>`: what `redis-check-aof` is to an AOF.
//!
//! Reports the first damaged record of a segment (offset and cause); with `--fix` truncates the
//! segment there, dropping that record and everything after it, which is what start-up asks a
//! person to do when it finds corruption before a segment's tail.

use std::path::Path;

use super::record;
use super::recovery::{describe, truncate};

/// Runs the check; returns the process exit code and prints what it found.
pub fn run(args: &[String]) -> i32 {
    let fix = args.iter().any(|a| a == "--fix");
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("Usage: shardis check-binlog [--fix] <binlog segment file>");
        return 1;
    };
    let path = Path::new(path);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("Cannot read '{}': {error}", path.display());
            return 1;
        }
    };
    let mut records = 0u64;
    let end = record::scan(&bytes, |_| records += 1);
    let Some((offset, damage, _)) = end.damage else {
        println!("Binlog '{}' is valid: {records} records", path.display());
        return 0;
    };
    println!(
        "Binlog '{}': {records} valid records, then {} at offset {offset} ({} bytes would be lost)",
        path.display(),
        describe(&damage),
        bytes.len() - offset
    );
    if !fix {
        println!("Run with --fix to truncate it at offset {offset}.");
        return 1;
    }
    match truncate(path, offset as u64) {
        Ok(()) => {
            println!("Successfully truncated the binlog at offset {offset}.");
            0
        }
        Err(error) => {
            eprintln!("Failed to truncate '{}': {error}", path.display());
            1
        }
    }
}
