//! SQLite backend (placeholder until written).
/// SQLite state store.
pub struct SqliteStore;
