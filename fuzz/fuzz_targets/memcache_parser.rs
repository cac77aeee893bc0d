//! Feeds arbitrary bytes to the memcached parsers (text, meta and binary, chosen by the first
//! byte like a real connection), split in two at a point the input picks: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shardis::protocol::memcache::fuzz_one_input(data);
});
