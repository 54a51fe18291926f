//! Prometheus metrics: every metric name Berth records, its description and its label values.
//! The exporter (recorder, upkeep, the text served at `/metrics`) is `crate::http::scrape`:
//! this module sits below every layer that records, so it imports none of them.
//!
//! Names are `const`s here and nowhere else, and each is described once by [`init`], so the
//! exported `# HELP` lines and the README list stay in one place. Label values are bounded by
//! construction: repository and blob store names are operator-defined, routes are the
//! [`Endpoint`](crate::http::Endpoint) kinds, methods and status classes are fixed sets.
//! Raw paths, digests, tags, image names and user names are never labels: a registry that
//! receives millions of distinct tags must still export a few hundred series.
//!
//! Most values are recorded where they happen (the HTTP middleware, upload and manifest
//! handlers). Values that are state rather than events (store sizes, quotas, component
//! counts) are read at scrape time by `crate::http::scrape`, so they cost nothing between scrapes.

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};

/// Requests served, by `repository`, `route`, `method` and `status_class`.
pub const HTTP_REQUESTS: &str = "berth_http_requests_total";
/// Time from request to response head, by `route` and `method` (histogram, seconds).
pub const HTTP_DURATION: &str = "berth_http_request_duration_seconds";
/// Request body bytes announced by `Content-Length`, by `route`.
pub const HTTP_REQUEST_BYTES: &str = "berth_http_request_bytes_total";
/// Response body bytes of sized responses, by `route`.
pub const HTTP_RESPONSE_BYTES: &str = "berth_http_response_bytes_total";
/// Upload sessions open right now (all repositories).
pub const UPLOADS_IN_PROGRESS: &str = "berth_uploads_in_progress";
/// Bytes written to the temp files of uploads not yet committed or abandoned (all stores).
pub const UPLOAD_BYTES_IN_PROGRESS: &str = "berth_upload_bytes_in_progress";
/// Blobs committed by an upload, by `repository` (mounts are not pushes).
pub const BLOBS_PUSHED: &str = "berth_blobs_pushed_total";
/// Bytes of blobs committed by an upload, by `repository`.
pub const BLOB_BYTES_PUSHED: &str = "berth_blob_bytes_pushed_total";
/// Manifests stored by a PUT, by `repository`.
pub const MANIFESTS_PUSHED: &str = "berth_manifests_pushed_total";
/// Bytes of committed blobs in a blob store, by `store`.
pub const BLOB_STORE_BYTES: &str = "berth_blob_store_bytes";
/// A blob store's soft quota in bytes, by `store` (only stores that have one).
pub const BLOB_STORE_SOFT_QUOTA: &str = "berth_blob_store_soft_quota_bytes";
/// A blob store's hard quota in bytes, by `store` (only stores that have one).
pub const BLOB_STORE_HARD_QUOTA: &str = "berth_blob_store_hard_quota_bytes";
/// Components (tagged manifests, the Nexus definition), by hosted `repository`.
pub const COMPONENTS: &str = "berth_components";
/// Distinct blobs linked into a hosted repository's images, by `repository`.
pub const REPOSITORY_BLOBS: &str = "berth_repository_blobs";
/// Bytes of the distinct blobs linked into a hosted repository, by `repository` (a blob shared
/// with another repository counts in both; the store's own figure counts it once).
pub const REPOSITORY_BLOB_BYTES: &str = "berth_repository_blob_bytes";
/// Lookups in the in-memory manifest cache, by `result` (`hit` or `miss`).
pub const MANIFEST_CACHE_LOOKUPS: &str = "berth_manifest_cache_lookups_total";
/// Estimated bytes of the loaded image states (tags, manifests, blob links) of all
/// repositories; kept at or under `limits.image_cache_bytes`.
pub const IMAGE_CACHE_BYTES: &str = "berth_image_cache_bytes";
/// Image states loaded in memory.
pub const IMAGE_CACHE_IMAGES: &str = "berth_image_cache_images";
/// The image cache's budget (`limits.image_cache_bytes`).
pub const IMAGE_CACHE_LIMIT: &str = "berth_image_cache_limit_bytes";
/// Image states evicted to stay within the budget (they reload on their next use).
pub const IMAGE_CACHE_EVICTIONS: &str = "berth_image_cache_evictions_total";
/// Image states read from the database: first use, after an eviction, after another node's
/// change, or a miss revalidated with several nodes. Each reads every tag, manifest record
/// and blob link of the image.
pub const IMAGE_LOADS: &str = "berth_image_loads_total";

/// A usage figure (`metric` = `requests` in the rolling 24 h window, or `components`).
pub const USAGE_VALUE: &str = "berth_usage_value";
/// The limit of a usage figure, by `metric`.
pub const USAGE_LIMIT: &str = "berth_usage_limit";
/// Where a usage figure turns `near` (warning ratio × limit), by `metric`.
pub const USAGE_WARNING: &str = "berth_usage_warning_threshold";
/// State of a usage figure, by `metric`: 0 under, 1 near, 2 over (at or above the limit).
pub const USAGE_STATE: &str = "berth_usage_state";
/// 1 if the limit's action is `enforce` (over refuses new components and blobs), by `metric`.
pub const USAGE_ENFORCED: &str = "berth_usage_enforced";
/// Always 1, labelled with the limit's configured `action` (`observe`, `warn`, `enforce`),
/// by `metric`: alert rules join it to carry the action and pick their severity.
pub const USAGE_ACTION: &str = "berth_usage_action";
/// Requests answered 401 in the rolling 24 h window (never counted toward the limit).
pub const USAGE_UNAUTHORIZED: &str = "berth_usage_unauthorized_requests";
/// Writes refused because an enforced usage limit is reached, by `metric`.
pub const USAGE_REFUSED: &str = "berth_usage_refused_total";
/// Blobs served by a GET (not HEAD), by `repository`.
pub const BLOBS_PULLED: &str = "berth_blobs_pulled_total";
/// Blobs deleted by garbage collection, by `store`.
pub const GC_BLOBS_DELETED: &str = "berth_gc_blobs_deleted_total";
/// Bytes freed by garbage collection, by `store`.
pub const GC_BYTES_FREED: &str = "berth_gc_bytes_freed_total";
/// Garbage collections completed, by `store`.
pub const GC_RUNS: &str = "berth_gc_runs_total";
/// Duration of the last garbage collection, by `store` (seconds).
pub const GC_LAST_DURATION: &str = "berth_gc_last_duration_seconds";
/// 1 while a garbage collection of the `store` runs.
pub const GC_RUNNING: &str = "berth_gc_running";
/// Log lines that could not be written (stderr full or closed); the line is dropped.
pub const LOG_WRITE_ERRORS: &str = "berth_log_write_errors_total";
/// Repository actors restarted after they died or a handler panicked, by `repository`.
pub const ACTOR_RESTARTS: &str = "berth_actor_restarts_total";
/// Task runs that panicked (recorded as failed, never left running), by `task`.
pub const TASK_PANICS: &str = "berth_task_panics_total";
/// Task runs started on this node (scheduled or on demand), by `task`.
pub const TASK_RUNS: &str = "berth_task_runs_total";
/// 1 while this node holds the scheduler's leader lease (runs the scheduled tasks).
pub const TASKS_LEADER: &str = "berth_tasks_leader";
/// Upload sessions or body reads refused by a limit, by `reason`
/// (`repository`, `client`, `descriptors`, `body_timeout`).
pub const UPLOADS_REFUSED: &str = "berth_uploads_refused_total";

/// Latency buckets of [`HTTP_DURATION`], seconds: a warm manifest GET is well under a
/// millisecond, a large blob upload can take minutes.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// Describes every metric of this module (`# HELP` and unit); the exporter calls it once
/// after installing its recorder.
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by repository, route pattern, method and status class"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from request to response head"
    );
    describe_counter!(
        HTTP_REQUEST_BYTES,
        Unit::Bytes,
        "Request body bytes (Content-Length)"
    );
    describe_counter!(
        HTTP_RESPONSE_BYTES,
        Unit::Bytes,
        "Response body bytes (sized responses)"
    );
    describe_gauge!(UPLOADS_IN_PROGRESS, "Blob upload sessions currently open");
    describe_gauge!(
        UPLOAD_BYTES_IN_PROGRESS,
        Unit::Bytes,
        "Bytes received by uploads not committed yet"
    );
    describe_counter!(BLOBS_PUSHED, "Blobs committed by uploads");
    describe_counter!(
        BLOB_BYTES_PUSHED,
        Unit::Bytes,
        "Bytes of blobs committed by uploads"
    );
    describe_counter!(MANIFESTS_PUSHED, "Manifests stored by PUT");
    describe_gauge!(
        BLOB_STORE_BYTES,
        Unit::Bytes,
        "Bytes of committed blobs in the store"
    );
    describe_gauge!(
        BLOB_STORE_SOFT_QUOTA,
        Unit::Bytes,
        "Soft quota of the store"
    );
    describe_gauge!(
        BLOB_STORE_HARD_QUOTA,
        Unit::Bytes,
        "Hard quota of the store"
    );
    describe_gauge!(
        COMPONENTS,
        "Tagged manifests (components) per hosted repository"
    );
    describe_counter!(MANIFEST_CACHE_LOOKUPS, "Manifest cache lookups by result");
    describe_gauge!(
        IMAGE_CACHE_BYTES,
        Unit::Bytes,
        "Estimated bytes of image states held in memory"
    );
    describe_gauge!(IMAGE_CACHE_IMAGES, "Image states held in memory");
    describe_gauge!(
        IMAGE_CACHE_LIMIT,
        Unit::Bytes,
        "Budget of the image state cache"
    );
    describe_counter!(
        IMAGE_CACHE_EVICTIONS,
        "Image states evicted to stay within the budget"
    );
    describe_counter!(IMAGE_LOADS, "Image states read from the database");
    describe_gauge!(USAGE_VALUE, "Usage figure: requests in 24 h or components");
    describe_gauge!(USAGE_LIMIT, "Usage limit");
    describe_gauge!(USAGE_WARNING, "Usage value from which the state is near");
    describe_gauge!(USAGE_STATE, "Usage state: 0 under, 1 near, 2 over");
    describe_gauge!(USAGE_ENFORCED, "1 if the usage limit is enforced");
    describe_gauge!(USAGE_ACTION, "1, labelled with the usage limit's action");
    describe_gauge!(USAGE_UNAUTHORIZED, "Requests answered 401 in the last 24 h");
    describe_counter!(USAGE_REFUSED, "Writes refused by an enforced usage limit");
    describe_counter!(BLOBS_PULLED, "Blobs served by GET");
    describe_counter!(GC_BLOBS_DELETED, "Blobs deleted by garbage collection");
    describe_counter!(
        GC_BYTES_FREED,
        Unit::Bytes,
        "Bytes freed by garbage collection"
    );
    describe_counter!(GC_RUNS, "Garbage collections completed");
    describe_gauge!(
        GC_LAST_DURATION,
        Unit::Seconds,
        "Duration of the last garbage collection"
    );
    describe_gauge!(
        REPOSITORY_BLOBS,
        "Distinct blobs linked into a hosted repository"
    );
    describe_gauge!(
        REPOSITORY_BLOB_BYTES,
        Unit::Bytes,
        "Bytes of the distinct blobs linked into a hosted repository"
    );
    describe_gauge!(GC_RUNNING, "1 while a garbage collection of the store runs");
    describe_counter!(LOG_WRITE_ERRORS, "Log lines lost to a failed write");
    describe_counter!(ACTOR_RESTARTS, "Repository actors restarted");
    describe_counter!(TASK_PANICS, "Task runs that panicked");
    describe_counter!(TASK_RUNS, "Task runs started on this node");
    describe_gauge!(
        TASKS_LEADER,
        "1 while this node runs the scheduled tasks of the cluster"
    );
    describe_counter!(UPLOADS_REFUSED, "Uploads refused or cut by a limit");
}

/// The bounded `method` label.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

/// The bounded `status_class` label.
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Counts one blob committed by an upload into `repository`.
pub fn blob_pushed(repository: &str, size: u64) {
    metrics::counter!(BLOBS_PUSHED, "repository" => repository.to_string()).increment(1);
    metrics::counter!(BLOB_BYTES_PUSHED, "repository" => repository.to_string()).increment(size);
}

/// Counts one blob served by a GET from `repository`.
pub fn blob_pulled(repository: &str) {
    metrics::counter!(BLOBS_PULLED, "repository" => repository.to_string()).increment(1);
}

/// Counts one manifest stored in `repository`.
pub fn manifest_pushed(repository: &str) {
    metrics::counter!(MANIFESTS_PUSHED, "repository" => repository.to_string()).increment(1);
}

thread_local! {
    /// The hit and miss counters, found in the recorder once per thread (every warm
    /// manifest GET counts one; see `http::metrics_mw` for why handles are kept).
    static MANIFEST_CACHE_COUNTERS: [metrics::Counter; 2] = [
        metrics::counter!(MANIFEST_CACHE_LOOKUPS, "result" => "hit"),
        metrics::counter!(MANIFEST_CACHE_LOOKUPS, "result" => "miss"),
    ];
}

/// Counts one manifest cache lookup.
pub fn manifest_cache_lookup(hit: bool) {
    let counted = MANIFEST_CACHE_COUNTERS.try_with(|c| c[usize::from(!hit)].increment(1));
    if counted.is_err() {
        // The thread is stopping and its locals are gone: count without them.
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!(MANIFEST_CACHE_LOOKUPS, "result" => result).increment(1);
    }
}

/// Publishes the image cache's estimated bytes and image count.
pub fn image_cache_usage(bytes: usize, images: usize) {
    gauge!(IMAGE_CACHE_BYTES).set(bytes as f64);
    gauge!(IMAGE_CACHE_IMAGES).set(images as f64);
}

/// Publishes the image cache's budget.
pub fn image_cache_limit(bytes: usize) {
    gauge!(IMAGE_CACHE_LIMIT).set(bytes as f64);
}

/// Counts image states evicted from the cache.
pub fn image_cache_evicted(images: u64) {
    metrics::counter!(IMAGE_CACHE_EVICTIONS).increment(images);
}

/// Counts an image state read from the database.
pub fn image_loaded() {
    metrics::counter!(IMAGE_LOADS).increment(1);
}

/// Records a finished garbage collection of blob store `store`.
pub fn gc_finished(store: &str, blobs_deleted: u64, bytes_freed: u64, duration_ms: u64) {
    let store = store.to_string();
    metrics::counter!(GC_BLOBS_DELETED, "store" => store.clone()).increment(blobs_deleted);
    metrics::counter!(GC_BYTES_FREED, "store" => store.clone()).increment(bytes_freed);
    metrics::counter!(GC_RUNS, "store" => store.clone()).increment(1);
    gauge!(GC_LAST_DURATION, "store" => store).set(duration_ms as f64 / 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        use actix_web::http::Method;
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(999), "5xx");
    }
}
