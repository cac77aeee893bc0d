//! Arbitrary bytes through the memcached parser for meta commands (every input starts with `m`), fed in two parts split at a point
//! taken from the input: nothing may panic. `cargo fuzz run memcache_meta` from the top level.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::protocol::memcache::{fuzz_one_input, FuzzTarget};

fuzz_target!(|data: &[u8]| {
    fuzz_one_input(FuzzTarget::Meta, data);
});
