//! Docker, images, bringing a stack up along its dependency graph, and keeping every container's
//! log.

pub mod docker;
pub mod images;
pub mod logs;
pub mod stack;
