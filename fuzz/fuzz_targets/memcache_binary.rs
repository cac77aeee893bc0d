//! Arbitrary bytes through the memcached parser for the binary protocol, fed in two parts split at a point
//! taken from the input: nothing may panic. `cargo fuzz run memcache_binary` from the top level.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::protocol::memcache::{fuzz_one_input, FuzzTarget};

fuzz_target!(|data: &[u8]| {
    fuzz_one_input(FuzzTarget::Binary, data);
});
