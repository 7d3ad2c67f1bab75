//! Docker, images, and bringing a stack up along its dependency graph.

pub mod docker;
pub mod images;
pub mod stack;
