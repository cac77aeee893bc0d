//! Lua scripting (engine in progress elsewhere).

pub mod libs;
