//! The storage conformance suite (`conformance.rs`) run against the file store. Another
//! backend adds a file like this one with its own fixture.

#[macro_use]
mod conformance;

use std::sync::Arc;

use berth::storage::FileStore;
use conformance::Fixture;

async fn file_store() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open("conformance", dir.path()).unwrap();
    Fixture {
        store: Arc::new(store),
        _keep: Box::new(dir),
    }
}

conformance_suite!(file_store);
