//! The metadata layer: backend-neutral part (see `sqlite` for today's only backend).

mod error;
mod sqlite;

pub use error::MetaError;
pub use sqlite::*;
