//! Skeleton: every directive, its default and validation (filled in by the config helper).
