//! Skeleton: connection and server command specs.
use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
