//! Arbitrary bytes through the RESP request parser, fed in two parts split at a point taken from
//! the input and, separately, in one: no panic, no command without arguments, and the same
//! commands, error and leftover bytes both ways. `cargo fuzz run resp_parser` from the top level.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shardis::protocol::resp::fuzz_one_input(data);
});
