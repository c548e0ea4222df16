//! Autotuning's machinery, knowing no op: on the first use of a shape class (a string key the
//! op builds) time each candidate configuration the op offers, keep the fastest, and cache
//! the winner on disk per adapter, driver and crate version. The ops (`ops::tune`) own the
//! candidates and the keys; this file owns the switch, the budget, the timing and the file.
//!
//! Off unless the process asks for it ([`enable`], which the CLI calls) and `SGW_AUTOTUNE`
//! is not `off`: under `cargo test` every op keeps its fixed rule, so results stay
//! deterministic. Cache: `$SGW_AUTOTUNE_CACHE/` or `$XDG_CACHE_HOME/stylegan-wgpu/` or
//! `~/.cache/stylegan-wgpu/`, one `autotune-<hash>.json` per adapter identity.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::context::GpuContext;
use super::timer::GpuTimer;

static ON: AtomicBool = AtomicBool::new(false);

/// Turn tuning on or off for the process (the CLI: on unless `--no-autotune`).
pub fn enable(on: bool) {
    ON.store(on, Ordering::SeqCst);
}

/// Restores the switch in force before [`set_enabled`] on drop.
#[must_use = "the switch is restored when the guard drops"]
pub struct EnableGuard(bool);

impl Drop for EnableGuard {
    fn drop(&mut self) {
        ON.store(self.0, Ordering::SeqCst);
    }
}

/// The switch as a scope (tests).
pub fn set_enabled(on: bool) -> EnableGuard {
    EnableGuard(ON.swap(on, Ordering::SeqCst))
}

/// `SGW_AUTOTUNE=off` (or 0, false, no) wins over [`enable`].
pub fn env_disabled() -> bool {
    std::env::var("SGW_AUTOTUNE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    })
}

pub fn enabled() -> bool {
    ON.load(Ordering::SeqCst) && !env_disabled()
}

/// Tuning time per shape class: `SGW_AUTOTUNE_BUDGET_MS`, default 200 ms, or twice one run
/// of the rule where that is longer (see [`measure`]).
pub fn budget() -> Duration {
    let ms = std::env::var("SGW_AUTOTUNE_BUDGET_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(200);
    Duration::from_millis(ms)
}

/// After the rule, the others may take this many times its run (where that beats the budget).
const RELATIVE: f64 = 2.0;
/// Timed runs per candidate at most (the minimum is kept: noise only adds time).
const REPS: usize = 3;
/// A candidate whose first run is this many times the best so far gets no more runs.
const ABSURD: f64 = 3.0;
/// Another candidate replaces candidate 0 (the fixed rule) only when this much faster, so
/// timing noise does not flip a choice (and its rounding) from one run to the next.
const MARGIN: f64 = 0.95;

// ---------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------

/// What the file holds: the identity it was written for and key -> winning label.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheFile {
    pub device: String,
    pub entries: BTreeMap<String, String>,
}

/// Adapter name, backend, driver, ids and crate version: a winner is only reused where all
/// are the same (a driver update may change which kernel is fastest).
pub fn identity(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} | {:?} | {} {} | {:#06x}:{:#06x} | sgw {}",
        info.name,
        info.backend,
        info.driver,
        info.driver_info,
        info.vendor,
        info.device,
        env!("CARGO_PKG_VERSION")
    )
}

/// FNV-1a: a stable file name from the identity (std's hasher is not stable across builds).
fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The folder: `SGW_AUTOTUNE_CACHE`, else the user's cache folder; None without a home.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("SGW_AUTOTUNE_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("stylegan-wgpu")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("stylegan-wgpu")))
}

pub fn cache_file(dir: &Path, identity: &str) -> PathBuf {
    dir.join(format!("autotune-{:016x}.json", fnv64(identity)))
}

/// The entries of `path` for `identity`: none when the file is missing; a file that does not
/// parse, or was written for another identity, is ignored with a one-line warning.
pub fn load(path: &Path, identity: &str) -> BTreeMap<String, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            eprintln!(
                "warning: autotune cache {} unreadable ({e}); ignoring it",
                path.display()
            );
            return BTreeMap::new();
        }
    };
    match serde_json::from_str::<CacheFile>(&text) {
        Ok(f) if f.device == identity => f.entries,
        Ok(f) => {
            eprintln!(
                "warning: autotune cache {} is for {:?}, not this adapter; ignoring it",
                path.display(),
                f.device
            );
            BTreeMap::new()
        }
        Err(e) => {
            eprintln!(
                "warning: autotune cache {} is corrupt ({e}); ignoring it",
                path.display()
            );
            BTreeMap::new()
        }
    }
}

/// Write atomically: a temporary file in the same folder, then a rename, so a reader (or a
/// second process) never sees half a file.
pub fn save(path: &Path, file: &CacheFile) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let text = serde_json::to_string_pretty(file).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

// ---------------------------------------------------------------------------------------
// The process's winners
// ---------------------------------------------------------------------------------------

struct State {
    file: Option<PathBuf>,
    cache: CacheFile,
    warned: bool,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with_state<R>(ctx: &GpuContext, f: impl FnOnce(&mut State) -> R) -> R {
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let state = guard.get_or_insert_with(|| {
        let device = identity(&ctx.info);
        let file = cache_dir().map(|d| cache_file(&d, &device));
        let entries = file
            .as_deref()
            .map_or_else(BTreeMap::new, |p| load(p, &device));
        State {
            file,
            cache: CacheFile { device, entries },
            warned: false,
        }
    });
    f(state)
}

/// Drop the winners held in memory: the next use reads the cache file again (tests that
/// move the cache or corrupt it).
pub fn forget() {
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The cache file in use, once a winner has been looked up.
pub fn file_in_use() -> Option<PathBuf> {
    STATE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|s| s.file.clone())
}

/// The winner cached for `key` (in memory or on disk).
pub fn cached(ctx: &GpuContext, key: &str) -> Option<String> {
    with_state(ctx, |s| s.cache.entries.get(key).cloned())
}

fn remember(ctx: &GpuContext, key: &str, label: &str) {
    with_state(ctx, |s| {
        s.cache.entries.insert(key.to_string(), label.to_string());
        let Some(path) = &s.file else { return };
        if let Err(e) = save(path, &s.cache) {
            if !std::mem::replace(&mut s.warned, true) {
                eprintln!(
                    "warning: autotune cache {} not written: {e}",
                    path.display()
                );
            }
        }
    });
}

/// The index of the candidate to run for `key`: the cached winner if it is still among
/// `labels`, else the fastest by [`measure`] (then cached). `run(i)` records candidate i
/// once, on any inputs of the class (its outputs are thrown away).
pub fn tune(ctx: &GpuContext, key: &str, labels: &[String], run: &mut dyn FnMut(usize)) -> usize {
    tune_warming(ctx, key, labels, &[], run)
}

/// [`tune`], with an untimed warm-up run of each candidate i where `warm[i]`: those made of
/// tuned parts (Winograd's batched matmul), whose first run would time their parts' tuning.
pub fn tune_warming(
    ctx: &GpuContext,
    key: &str,
    labels: &[String],
    warm: &[bool],
    run: &mut dyn FnMut(usize),
) -> usize {
    if let Some(i) = cached(ctx, key).and_then(|l| labels.iter().position(|x| *x == l)) {
        return i;
    }
    let i = measure_warming(ctx, labels.len(), budget(), warm, run);
    remember(ctx, key, &labels[i]);
    // The trials' outputs and split-K scratch went back to the pool in sizes the run may
    // never ask for again: give them to the driver rather than hold them for the whole run
    // (tuning happens once per shape class; the step's own buffers come back next step).
    ctx.trim_pool();
    i
}

/// The fastest of `n` candidates, by GPU timestamps where the adapter has them (else wall
/// clock around a sync, after a warm-up run that builds the pipeline). Candidate 0 is always
/// timed; later ones while `budget` lasts, or for twice the rule's own time after it where
/// that is longer (a layer that takes seconds on a slow device still gets its likeliest
/// alternatives tried, once, at the cost of a few of its own runs); one far slower than the
/// best, or taking an eighth of the budget, gets one run; the fastest wins if it beats
/// candidate 0 by the margin.
pub fn measure(ctx: &GpuContext, n: usize, budget: Duration, run: &mut dyn FnMut(usize)) -> usize {
    measure_warming(ctx, n, budget, &[], run)
}

/// [`measure`], warming up candidate i untimed first where `warm[i]` (always without
/// timestamps, where the first run would also build the pipeline inside the clock).
fn measure_warming(
    ctx: &GpuContext,
    n: usize,
    budget: Duration,
    warm: &[bool],
    run: &mut dyn FnMut(usize),
) -> usize {
    let mut deadline = Instant::now() + budget;
    let mut timer = GpuTimer::new(ctx, 2);
    ctx.sync();
    let mut best = (f64::INFINITY, 0);
    for i in 0..n {
        if i > 0 && Instant::now() > deadline {
            break;
        }
        if timer.is_none() || warm.get(i).copied().unwrap_or(false) {
            run(i);
            ctx.sync();
        }
        let mut fastest = f64::INFINITY;
        for _ in 0..REPS {
            let t = time_once(ctx, timer.as_mut(), &mut || run(i));
            fastest = fastest.min(t);
            // Far slower than the best, or long enough that noise hardly matters.
            let long = t > budget.as_secs_f64() / 8.0;
            if t > ABSURD * best.0 || long || Instant::now() > deadline {
                break;
            }
        }
        if i == 0 {
            deadline = deadline
                .max(Instant::now() + Duration::from_secs_f64((RELATIVE * fastest).min(60.0)));
        }
        let bar = if best.1 == 0 { MARGIN * best.0 } else { best.0 };
        if i == 0 || fastest < bar {
            best = (fastest, i);
        }
    }
    best.1
}

/// Seconds one run of `f` takes on the device.
fn time_once(ctx: &GpuContext, timer: Option<&mut GpuTimer>, f: &mut dyn FnMut()) -> f64 {
    match timer {
        Some(t) => {
            t.mark(ctx);
            f();
            t.mark(ctx);
            t.read_ns(ctx).first().copied().unwrap_or(0.0) * 1e-9
        }
        None => {
            let t0 = Instant::now();
            f();
            ctx.sync();
            t0.elapsed().as_secs_f64()
        }
    }
}
