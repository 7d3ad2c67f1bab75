pub mod avro;
pub mod canary;
pub mod evaluate;
pub mod integrity;
pub mod lag;
pub mod logs;
pub mod result;
pub mod routing;
