//! The per-kernel GPU profile (`gpu::profile`): every dispatch counted under its kernel,
//! with a positive GPU time, and nothing recorded once it stops.

use sgw::bench::ceilings::CopyParams;
use sgw::gpu::{self, Kernel};

#[test]
fn the_kernel_profile_counts_every_dispatch_of_a_kernel() {
    let ctx = gpu::gpu();
    if !ctx.can_profile() {
        eprintln!("no timestamp queries on this adapter: nothing to profile");
        return;
    }
    // The only test in this binary: the profile is the device's, and a parallel test's
    // dispatches (or its buffer-pool counters) would mix with this one's.
    let n = 1 << 16;
    let src = ctx.alloc(n * 16);
    let dst = ctx.alloc(n * 16);
    ctx.fill_u32(&src, 7);
    assert!(ctx.profile_start());
    for _ in 0..5 {
        ctx.dispatch(
            &Kernel::new("bench/copy.wgsl"),
            &CopyParams { n: n as u32 },
            &[&src, &dst],
            sgw::gpu::batch::groups_1d(n),
        );
    }
    let times = ctx.profile_take(true);
    let copy = times
        .iter()
        .find(|t| t.kernel == "bench/copy.wgsl")
        .expect("the copy kernel is in the profile");
    assert_eq!(copy.dispatches, 5);
    assert_eq!(copy.family, "bench");
    assert!(copy.ms > 0.0 && copy.ms.is_finite(), "{copy:?}");
    // The work was done, not just timed.
    let v: Vec<u32> = bytemuck::pod_collect_to_vec(&ctx.read(&dst, n * 16));
    assert!(v.iter().all(|&x| x == 7));
    // Stopped: nothing more is recorded.
    ctx.dispatch(
        &Kernel::new("bench/copy.wgsl"),
        &CopyParams { n: n as u32 },
        &[&src, &dst],
        sgw::gpu::batch::groups_1d(n),
    );
    assert!(ctx.profile_take(false).is_empty());
}
