//! The bounded image cache: loaded [`ImageState`]s of every repository under one memory
//! budget (`limits.image_cache_bytes`), least recently used images evicted first.
//!
//! Each repository core keeps an [`ImageCache`] (the map request handlers read, with
//! `DashMap`'s method names); all of them charge one [`ImageBudget`]. The database is the
//! truth and is written before memory, so an evicted image is simply loaded again by the
//! repository actor on its next use. Evicting an image a write is working on is harmless
//! too: the actor holds its own `Arc`, finishes on it, and the next reader reloads what
//! the database committed.
//!
//! Costs are placed off the hot path:
//! - A warm read (`get`) is the map lookup it always was, plus a relaxed load of the
//!   global tick and of the image's tick, and a store only when they differ. No lock, no
//!   shared counter written per GET.
//! - The tick advances on every insert (a miss that loaded an image). So "least recently
//!   used" means "not read since the most inserts ago": all images read between two loads
//!   tie, which is the precision eviction needs, since it only runs at loads and writes.
//! - Inserts, size changes from writes and removals take the ledger lock; an insert that
//!   goes over budget collects every cached image, sorts by tick and evicts down to 7/8 of
//!   the budget, so a scan is paid once per eighth of the budget, not per load.
//!
//! Lock order: the ledger lock may take a map's shard locks (to evict), never the reverse:
//! no method here calls the ledger while holding a map guard.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};

use dashmap::DashMap;

use super::ImageState;
use crate::oci::ImageName;

type Shelf = DashMap<ImageName, Arc<ImageState>>;

/// The one memory budget of all image caches of a process.
#[derive(Debug)]
pub struct ImageBudget {
    limit: usize,
    /// Advanced by every insert; images record it when read.
    tick: AtomicU64,
    ledger: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Sum of `charged` over the cached images.
    used: usize,
    images: usize,
    /// Every repository's map, so eviction can pick across repositories.
    shelves: Vec<Weak<Shelf>>,
}

impl ImageBudget {
    /// A budget of `limit` estimated bytes (0: nothing is kept; every read loads).
    pub fn new(limit: usize) -> Arc<Self> {
        crate::metrics::image_cache_limit(limit);
        Arc::new(ImageBudget {
            limit,
            tick: AtomicU64::new(1),
            ledger: Mutex::new(Ledger::default()),
        })
    }

    /// A new, empty map of one repository, charging this budget.
    pub fn cache(self: &Arc<Self>) -> ImageCache {
        let shelf = Arc::new(Shelf::new());
        let mut ledger = self.ledger.lock().unwrap();
        ledger.shelves.retain(|s| s.strong_count() > 0);
        ledger.shelves.push(Arc::downgrade(&shelf));
        ImageCache {
            shelf,
            budget: self.clone(),
        }
    }

    /// Estimated bytes and number of the cached images.
    pub fn usage(&self) -> (usize, usize) {
        let ledger = self.ledger.lock().unwrap();
        (ledger.used, ledger.images)
    }

    /// Charges `image` (now in `shelf`) and evicts others if over budget. An image larger
    /// than the whole budget is not kept.
    fn admit(&self, shelf: &Shelf, image: &Arc<ImageState>) {
        let mut ledger = self.ledger.lock().unwrap();
        image.touch(self.tick.fetch_add(1, Relaxed) + 1);
        if image.bytes() > self.limit {
            drop(ledger);
            shelf.remove_if(&image.name, |_, v| Arc::ptr_eq(v, image));
            return;
        }
        image.cached.store(true, Relaxed);
        image.charged.store(image.bytes(), Relaxed);
        ledger.used += image.bytes();
        ledger.images += 1;
        self.enforce(&mut ledger, image);
    }

    /// Brings the charge of a cached `image` in line with its size after a write.
    fn recharge(&self, shelf: &Shelf, image: &Arc<ImageState>) {
        let mut ledger = self.ledger.lock().unwrap();
        if !image.cached.load(Relaxed) {
            return;
        }
        let now = image.bytes();
        ledger.used = ledger.used - image.charged.swap(now, Relaxed) + now;
        if now > self.limit {
            drop(ledger);
            if let Some((_, gone)) = shelf.remove_if(&image.name, |_, v| Arc::ptr_eq(v, image)) {
                self.release(&gone);
            }
            return;
        }
        self.enforce(&mut ledger, image);
    }

    /// Uncharges an image just taken out of its map.
    fn release(&self, image: &ImageState) {
        let mut ledger = self.ledger.lock().unwrap();
        Self::uncharge(&mut ledger, image);
        publish(&ledger);
    }

    fn uncharge(ledger: &mut Ledger, image: &ImageState) {
        if image.cached.swap(false, Relaxed) {
            ledger.used -= image.charged.swap(0, Relaxed);
            ledger.images -= 1;
        }
    }

    /// Evicts least recently used images (never `keep`) until the ledger is at 7/8 of the
    /// budget, if it is over. Called with the ledger locked.
    fn enforce(&self, ledger: &mut Ledger, keep: &Arc<ImageState>) {
        if ledger.used > self.limit {
            let target = self.limit - self.limit / 8;
            let mut candidates: Vec<(u64, Arc<Shelf>, Arc<ImageState>)> = Vec::new();
            for shelf in ledger.shelves.iter().filter_map(Weak::upgrade) {
                for entry in shelf.iter() {
                    if !Arc::ptr_eq(entry.value(), keep) {
                        let tick = entry.value().last_used.load(Relaxed);
                        candidates.push((tick, shelf.clone(), entry.value().clone()));
                    }
                }
            }
            candidates.sort_by_key(|(tick, _, _)| *tick);
            let mut evicted = 0;
            for (_, shelf, image) in candidates {
                if ledger.used <= target {
                    break;
                }
                if shelf
                    .remove_if(&image.name, |_, v| Arc::ptr_eq(v, &image))
                    .is_some()
                {
                    Self::uncharge(ledger, &image);
                    evicted += 1;
                }
            }
            crate::metrics::image_cache_evicted(evicted);
        }
        publish(ledger);
    }
}

fn publish(ledger: &Ledger) {
    crate::metrics::image_cache_usage(ledger.used, ledger.images);
}

/// One repository's loaded images, bounded by the shared [`ImageBudget`]. Method names
/// follow `DashMap`'s, which it replaced.
#[derive(Debug)]
pub struct ImageCache {
    shelf: Arc<Shelf>,
    budget: Arc<ImageBudget>,
}

impl ImageCache {
    /// The image if loaded, marking it used. The hot path: see the module header.
    pub fn get(&self, name: &ImageName) -> Option<Arc<ImageState>> {
        let image = self.shelf.get(name).map(|e| e.value().clone())?;
        image.touch(self.budget.tick.load(Relaxed));
        Some(image)
    }

    /// Keeps a freshly loaded image (evicting others if over budget); returns the image it
    /// replaced.
    pub fn insert(&self, name: ImageName, image: Arc<ImageState>) -> Option<Arc<ImageState>> {
        let old = self.shelf.insert(name, image.clone());
        if let Some(old) = &old {
            self.budget.release(old);
        }
        self.budget.admit(&self.shelf, &image);
        old
    }

    /// Forgets an image (it reloads from the database on its next use).
    pub fn remove(&self, name: &ImageName) -> Option<(ImageName, Arc<ImageState>)> {
        let removed = self.shelf.remove(name);
        if let Some((_, image)) = &removed {
            self.budget.release(image);
        }
        removed
    }

    /// Forgets every image of the repository.
    pub fn clear(&self) {
        let names: Vec<ImageName> = self.shelf.iter().map(|e| e.key().clone()).collect();
        for name in names {
            self.remove(&name);
        }
    }

    /// Re-charges `image` after a write changed its size (no-op if it was evicted).
    pub fn recharge(&self, image: &Arc<ImageState>) {
        self.budget.recharge(&self.shelf, image);
    }

    /// Number of loaded images of this repository.
    pub fn len(&self) -> usize {
        self.shelf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shelf.is_empty()
    }
}

impl Drop for ImageCache {
    /// A repository deleted or re-created gives its images' bytes back to the budget.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ImageRecord;
    use crate::oci::Digest;

    fn digest(i: usize) -> Digest {
        Digest::parse(&format!("sha256:{i:064x}")).unwrap()
    }

    fn image(name: &str, tags: usize) -> Arc<ImageState> {
        let record = ImageRecord {
            tags: (0..tags).map(|i| (format!("t{i}"), digest(i))).collect(),
            ..ImageRecord::default()
        };
        Arc::new(ImageState::new(1, ImageName::parse(name).unwrap(), record))
    }

    fn load(cache: &ImageCache, name: &str, tags: usize) -> Arc<ImageState> {
        let image = image(name, tags);
        cache.insert(image.name.clone(), image.clone());
        image
    }

    fn name(n: &str) -> ImageName {
        ImageName::parse(n).unwrap()
    }

    #[test]
    fn the_ledger_is_the_sum_of_cached_images_and_drops_with_them() {
        let budget = ImageBudget::new(1 << 20);
        let a = budget.cache();
        let b = budget.cache();
        let x = load(&a, "x", 10);
        let y = load(&b, "y", 20);
        assert_eq!(budget.usage(), (x.bytes() + y.bytes(), 2));

        x.set_tag("new", digest(99));
        a.recharge(&x);
        assert_eq!(budget.usage().0, x.bytes() + y.bytes());

        a.remove(&name("x"));
        assert_eq!(budget.usage(), (y.bytes(), 1));
        drop(b);
        assert_eq!(budget.usage(), (0, 0));
    }

    #[test]
    fn over_budget_the_least_recently_read_images_go_first_across_repositories() {
        let one = image("probe", 10).bytes();
        let budget = ImageBudget::new(one * 4 + one / 2);
        let a = budget.cache();
        let b = budget.cache();
        load(&a, "old", 10);
        load(&b, "read", 10);
        load(&a, "middle", 10);
        load(&b, "other", 10);
        assert!(b.get(&name("read")).is_some());

        load(&a, "newest", 10);

        let (used, _) = budget.usage();
        assert!(used <= one * 4 + one / 2, "{used} over budget");
        assert!(
            a.get(&name("old")).is_none(),
            "least recently used is evicted"
        );
        assert!(b.get(&name("read")).is_some(), "a read keeps an image");
        assert!(
            a.get(&name("newest")).is_some(),
            "the image just loaded stays"
        );
    }

    #[test]
    fn an_image_larger_than_the_budget_is_served_but_not_kept() {
        let budget = ImageBudget::new(image("probe", 5).bytes());
        let cache = budget.cache();
        load(&cache, "small", 5);
        let big = load(&cache, "big", 500);
        assert!(big.tag("t499").is_some());
        assert!(cache.get(&name("big")).is_none());
        assert!(cache.get(&name("small")).is_some());

        let small = cache.get(&name("small")).unwrap();
        for i in 0..500 {
            small.set_tag(&format!("n{i}"), digest(i));
        }
        cache.recharge(&small);
        assert!(cache.get(&name("small")).is_none(), "grew past the budget");
        assert_eq!(budget.usage(), (0, 0));
    }

    #[test]
    fn replacing_an_image_charges_only_the_new_state() {
        let budget = ImageBudget::new(1 << 20);
        let cache = budget.cache();
        load(&cache, "x", 10);
        let again = load(&cache, "x", 3);
        assert_eq!(budget.usage(), (again.bytes(), 1));
        cache.clear();
        assert_eq!(budget.usage(), (0, 0));
        assert!(cache.is_empty());
    }
}
