//! The execution layer: poisoning, pooling, batching, timestamps, cross-device random numbers.

use sgw::gpu::{self, Kernel};
use sgw::ops::{self, rand_normal, rand_uniform};
use sgw::{Place, Tensor};

#[test]
fn poisoned_buffers_read_back_as_nan() {
    let ctx = gpu::gpu();
    let _poison = gpu::set_poison(true);
    let buf = ctx.alloc(64 * 4);
    let v: Vec<f32> = bytemuck::pod_collect_to_vec(&ctx.read(&buf, 64 * 4));
    assert!(
        v.iter().all(|x| x.is_nan()),
        "an unwritten element must be NaN"
    );
}

#[test]
fn a_kernel_that_skips_elements_is_caught_by_poisoning() {
    // Dispatch the fill kernel over fewer elements than the buffer holds: the tail stays NaN.
    let ctx = gpu::gpu();
    let _poison = gpu::set_poison(true);
    let buf = ctx.alloc(300 * 4);
    ctx.dispatch(
        &Kernel::new("elementwise/fill.wgsl"),
        &gpu::FillParams { n: 299, bits: 0 },
        &[&buf],
        [2, 1, 1],
    );
    let v: Vec<f32> = bytemuck::pod_collect_to_vec(&ctx.read(&buf, 300 * 4));
    assert!(v[..299].iter().all(|&x| x == 0.0));
    assert!(v[299].is_nan());
}

#[test]
fn steady_state_allocates_no_new_buffers_and_batches_dispatches() {
    let ctx = gpu::gpu();
    let x = rand_normal(&[64, 33], 1, 0, 0.0, 1.0, Place::Gpu);
    let w = rand_normal(&[33, 17], 2, 0, 0.0, 1.0, Place::Gpu);
    let step = || {
        let y = ops::leaky_relu(&ops::matmul(&x, &w), 0.2, 2f64.sqrt());
        ops::sum_all(&ops::square(&y)).item()
    };
    let first = step();
    let (created0, _) = ctx.pool_stats();
    let (d0, s0) = ctx.counters();
    for _ in 0..5 {
        assert_eq!(step(), first, "same inputs, same result");
    }
    let (created1, _) = ctx.pool_stats();
    let (d1, s1) = ctx.counters();
    // Other tests run concurrently on the same device, so allow their allocations but
    // require that our repeated steps did not need a new buffer each time.
    assert!(
        created1 - created0 < 5,
        "pool created {} buffers over 5 identical steps",
        created1 - created0
    );
    assert!(d1 - d0 >= 5 * 4, "dispatches recorded");
    assert!(s1 - s0 <= d1 - d0, "never more submits than dispatches");
}

#[test]
fn random_numbers_agree_between_gpu_and_cpu() {
    let shape = [3, 1001];
    let g = rand_uniform(&shape, 42, 1 << 33, 0.0, 1.0, Place::Gpu).to_vec();
    let c = rand_uniform(&shape, 42, 1 << 33, 0.0, 1.0, Place::Cpu32).to_vec();
    assert_eq!(g, c, "uniform draws must be bit-identical");
    assert!(g.iter().all(|&u| (0.0..1.0).contains(&u)));
    let g = rand_normal(&shape, 7, 5, 0.0, 1.0, Place::Gpu).to_vec();
    let c = rand_normal(&shape, 7, 5, 0.0, 1.0, Place::Cpu64).to_vec_f64();
    for (a, b) in g.iter().zip(&c) {
        // f32 log/cos on the GPU against f64: a few ulps of the result.
        assert!((*a as f64 - b).abs() < 2e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let mean = c.iter().sum::<f64>() / c.len() as f64;
    let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c.len() as f64;
    assert!(
        mean.abs() < 0.06 && (var - 1.0).abs() < 0.08,
        "mean {mean} var {var}"
    );
    // A different offset gives different numbers.
    let other = rand_uniform(&shape, 42, 1 << 34, 0.0, 1.0, Place::Cpu32).to_vec();
    assert_ne!(
        other,
        rand_uniform(&shape, 42, 1 << 33, 0.0, 1.0, Place::Cpu32).to_vec()
    );
}

#[test]
fn timestamps_measure_recorded_work() {
    let ctx = gpu::gpu();
    let Some(mut timer) = gpu::GpuTimer::new(ctx, 4) else {
        eprintln!("adapter has no timestamp queries; skipped");
        return;
    };
    let a = rand_normal(&[128, 128], 3, 0, 0.0, 1.0, Place::Gpu);
    timer.mark(ctx);
    let c = ops::matmul(&a, &a);
    timer.mark(ctx);
    let ns = timer.read_ns(ctx);
    assert_eq!(ns.len(), 1);
    assert!(ns[0] > 0.0, "matmul took {} ns", ns[0]);
    drop(c);
}

#[test]
fn upload_and_readback_round_trip() {
    let v: Vec<f32> = (0..1001).map(|i| i as f32 * 0.5 - 3.0).collect();
    let t = Tensor::from_vec(v.clone(), &[7, 11, 13], Place::Gpu);
    assert_eq!(t.to_vec(), v);
    assert_eq!(Tensor::full(&[5], 2.5, Place::Gpu).to_vec(), vec![2.5; 5]);
}

#[test]
fn the_pool_counts_live_pooled_and_peak_bytes() {
    // A pool of its own, so that tests running alongside do not move its figures.
    let ctx = gpu::gpu();
    let pool = std::sync::Arc::new(gpu::pool::BufferPool::new(ctx.device.clone()));
    let a = pool.acquire(1000);
    let b = pool.acquire(5000);
    let (ca, cb) = (gpu::pool::size_class(1000), gpu::pool::size_class(5000));
    let m = pool.memory();
    assert_eq!((m.live_bytes, m.live_requested_bytes), (ca + cb, 6000));
    assert_eq!(
        (m.live_buffers, m.pooled_bytes, m.buffers_created),
        (2, 0, 2)
    );
    drop(b);
    let m = pool.memory();
    assert_eq!(
        (m.live_bytes, m.pooled_bytes, m.pooled_buffers),
        (ca, cb, 1)
    );
    assert_eq!(m.peak_bytes, ca + cb);
    // Reuse moves bytes from pooled to live: nothing is created and the peak stays.
    let b = pool.acquire(4900);
    let m = pool.memory();
    assert_eq!(
        (m.buffers_created, m.buffers_reused, m.pooled_bytes),
        (2, 1, 0)
    );
    assert_eq!(m.live_requested_bytes, 5900);
    // Views into an arena are not allocations of their own.
    let arena = std::sync::Arc::new(a);
    let view = arena.view(256, 256);
    assert_eq!(pool.memory().live_buffers, 2);
    drop((view, arena, b));
    let m = pool.memory();
    assert_eq!(
        (m.live_bytes, m.live_requested_bytes, m.live_buffers),
        (0, 0, 0)
    );
    assert_eq!((m.pooled_bytes, m.peak_bytes), (ca + cb, ca + cb));
    pool.trim();
    pool.reset_peak();
    let m = pool.memory();
    assert_eq!((m.pooled_bytes, m.peak_bytes, m.buffers_created), (0, 0, 2));
}
