//! Unit tests of `set`.
