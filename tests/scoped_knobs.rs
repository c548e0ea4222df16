//! Global knobs are scopes: poisoning and the conv tiling policy come back to what they were
//! when their guard drops. A binary of its own, since other tests hold these scopes in
//! parallel.

use sgw::gpu;
use sgw::ops::conv::{set_tiling_policy, tiling_policy, TilingPolicy};

#[test]
fn poisoning_and_tiling_end_with_their_scope() {
    let ctx = gpu::gpu();
    assert!(!gpu::poison_enabled());
    {
        let _outer = gpu::set_poison(true);
        {
            let _inner = gpu::set_poison(true);
        }
        assert!(gpu::poison_enabled(), "an inner scope ended the outer one");
        {
            let _off = gpu::set_poison(false);
            assert!(!gpu::poison_enabled());
        }
        assert!(
            gpu::poison_enabled(),
            "an off scope switched poisoning off for good"
        );
        let buf = ctx.alloc(16 * 4);
        let v: Vec<f32> = bytemuck::pod_collect_to_vec(&ctx.read(&buf, 16 * 4));
        assert!(v.iter().all(|x| x.is_nan()));
    }
    assert!(!gpu::poison_enabled(), "poisoning outlived its scope");
    let buf = ctx.alloc(16 * 4);
    ctx.fill_u32(&buf, 0);
    drop(buf);
    let again = ctx.alloc(16 * 4);
    let v: Vec<f32> = bytemuck::pod_collect_to_vec(&ctx.read(&again, 16 * 4));
    assert!(
        v.iter().all(|x| *x == 0.0),
        "a buffer was poisoned after the scope"
    );

    assert_eq!(tiling_policy(), TilingPolicy::Auto);
    {
        let _wide = set_tiling_policy(TilingPolicy::Wide);
        {
            let _narrow = set_tiling_policy(TilingPolicy::Narrow);
            assert_eq!(tiling_policy(), TilingPolicy::Narrow);
        }
        assert_eq!(tiling_policy(), TilingPolicy::Wide);
    }
    assert_eq!(tiling_policy(), TilingPolicy::Auto);
}
