//! The Lua libraries Redis preloads (cjson, cmsgpack, bit, struct). Stub until the libraries'
//! branch is merged: it registers nothing.

/// Registers every library in `lua`'s globals.
pub fn register_all(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
