//! In-process tests of the sorted-set commands.
