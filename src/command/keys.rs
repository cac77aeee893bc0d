//! Skeleton: filled in by the command helper.
use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
