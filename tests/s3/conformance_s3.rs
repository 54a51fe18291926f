//! The storage conformance suite (`tests/storage/conformance.rs`) run against `S3Store` on a
//! fresh Garage per case.

use std::sync::Arc;

use berth::storage::S3Store;

use crate::common::garage::Garage;
use crate::conformance::Fixture;

async fn s3_store() -> Option<Fixture> {
    let garage = Garage::start().await?;
    let store = S3Store::connect("conformance", &crate::store::options(&garage, "conf", 0))
        .expect("S3 store on Garage");
    Some(Fixture {
        store: Arc::new(store),
        _keep: Box::new(garage),
    })
}

// Known gap: an S3 upload holds its unsent tail (under one 8 MiB part) in memory, since S3
// refuses smaller parts, and multipart uploads in progress are not objects a listing sees
// (`object_store` cannot list multipart uploads). So a crash leaves nothing `purge_staged`
// can find: the tail is lost with the process and the parts wait for the bucket's
// `AbortIncompleteMultipartUpload` lifecycle rule. The case expects the leftovers to be found.
conformance_suite!(s3_store, known_gaps: [crash_leftovers_are_invisible_and_purged]);
