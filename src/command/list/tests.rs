//! Unit tests of `list`.
