//! Exit codes, as documented in the README.

/// All checks passed.
pub const EXIT_OK: i32 = 0;
/// The stack ran, and a check or step failed.
pub const EXIT_CHECKS_FAILED: i32 = 1;
/// Invalid input: nothing was started.
pub const EXIT_INVALID_INPUT: i32 = 2;
/// The stack could not be brought up (no Docker engine, an image that would not build, a node that
/// never became ready).
pub const EXIT_STACK_FAILED: i32 = 3;
/// The config preflight could not read a release's config definitions (no JDK or Maven, or a
/// release Maven cannot resolve); nothing was started.
pub const EXIT_PREFLIGHT_UNAVAILABLE: i32 = 4;
/// Interrupted by SIGINT or SIGTERM; everything the run had started was removed.
pub const EXIT_INTERRUPTED: i32 = 130;
