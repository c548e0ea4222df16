//! Fused Adam and EMA over a parameter group: the GPU (one dispatch for the whole group)
//! against the CPU reference, bias correction at step 1 against the closed form, and the
//! flat layout (views of one arena) against per-parameter values.

use sgw::ops::rand_uniform;
use sgw::optim::{ema_update, Adam, AdamConfig};
use sgw::params::ParamGroup;
use sgw::{Place, Tensor};

/// Parameters of awkward sizes (not multiples of the 64-float alignment or of 256).
fn named(place: Place) -> Vec<(String, Tensor)> {
    [
        vec![3usize, 5],
        vec![1],
        vec![70],
        vec![17, 3, 3, 3],
        vec![300],
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| {
        (
            format!("p{i}"),
            rand_uniform(s, 11, i as u64 * 1000, -1.0, 1.0, place),
        )
    })
    .collect()
}

fn grads(group: &ParamGroup, step: u64) -> Vec<Option<Tensor>> {
    group
        .params()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Some(rand_uniform(
                p.shape(),
                99 + step,
                i as u64 * 1000,
                -2.0,
                2.0,
                p.place(),
            ))
        })
        .collect()
}

/// Largest elementwise relative error, each divided by max(|want|, 1% of the largest
/// |want|): the harness's floor, so an element that an update brought near zero is not
/// judged by f32 rounding of the numbers it was computed from.
fn max_rel(a: &[f32], b: &[f64]) -> f64 {
    let floor = 0.01 * b.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs() / y.abs().max(floor).max(1e-30))
        .fold(0.0, f64::max)
}

#[test]
fn ten_adam_steps_on_gpu_match_the_cpu_reference() {
    let cfg = AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    };
    let mut g = ParamGroup::new(named(Place::Gpu), Place::Gpu);
    let mut c = ParamGroup::new(named(Place::Cpu64), Place::Cpu64);
    let (mut ag, mut ac) = (Adam::new(&g, cfg), Adam::new(&c, cfg));
    for step in 0..10 {
        let grads_c = grads(&c, step);
        let grads_g: Vec<_> = grads_c
            .iter()
            .map(|t| t.as_ref().map(|t| t.to_gpu()))
            .collect();
        ag.step(&mut g, &grads_g);
        ac.step(&mut c, &grads_c);
    }
    for (pg, pc) in g.params().iter().zip(c.params()) {
        let e = max_rel(&pg.to_vec(), &pc.to_vec_f64());
        assert!(e < 1e-6, "max relative error {e:e} after 10 steps");
        assert!(pg.requires_grad() && pc.requires_grad());
    }
    let (mg, vg) = ag.moments();
    let (mc, vc) = ac.moments();
    assert!(max_rel(&mg.to_vec(), &mc.to_vec_f64()) < 1e-6);
    assert!(max_rel(&vg.to_vec(), &vc.to_vec_f64()) < 1e-6);
}

/// After one step the bias-corrected moments are m = g, v = g^2 for any betas, so the update
/// is exactly lr * g / (|g| + eps).
#[test]
fn bias_correction_at_step_one() {
    for beta1 in [0.0, 0.9] {
        for place in [Place::Gpu, Place::Cpu64] {
            let cfg = AdamConfig {
                lr: 0.05,
                beta1,
                beta2: 0.99,
                eps: 1e-8,
            };
            let mut group = ParamGroup::new(named(place), place);
            let before: Vec<Vec<f64>> = group.params().iter().map(|p| p.to_vec_f64()).collect();
            let gs = grads(&group, 0);
            Adam::new(&group, cfg).step(&mut group, &gs);
            for ((p, b), g) in group.params().iter().zip(&before).zip(&gs) {
                let g = g.as_ref().unwrap().to_vec_f64();
                let want: Vec<f64> = b
                    .iter()
                    .zip(&g)
                    .map(|(b, g)| b - 0.05 * g / (g.abs() + 1e-8))
                    .collect();
                let e = max_rel(&p.to_vec(), &want);
                assert!(e < 1e-6, "{place:?} beta1 {beta1}: error {e:e}");
            }
        }
    }
}

#[test]
fn ema_gpu_matches_cpu_and_closed_form() {
    let beta = 0.8;
    let mut out = Vec::new();
    for place in [Place::Gpu, Place::Cpu64] {
        let model = ParamGroup::new(named(place), place);
        let mut ema = model.duplicate();
        // Move the model away from its copy, then average once.
        let moved: Vec<Tensor> = model.params().iter().map(|p| (p * 3.0).detach()).collect();
        let mut model = model;
        for (i, m) in moved.iter().enumerate() {
            model.set(i, m);
        }
        ema_update(&mut ema, &model, beta);
        out.push(ema.to_vecs());
    }
    let fresh = named(Place::Cpu64);
    for ((gpu, cpu), (_, p0)) in out[0].iter().zip(&out[1]).zip(&fresh) {
        let p0 = p0.to_vec_f64();
        // e = p0 + (1 - beta) (3 p0 - p0)
        let want: Vec<f64> = p0.iter().map(|x| x + (1.0 - beta) * 2.0 * x).collect();
        assert!(max_rel(gpu, &want) < 1e-6);
        assert!(max_rel(cpu, &want) < 1e-6);
    }
}

#[test]
fn parameters_are_independent_views_of_one_arena() {
    let mut g = ParamGroup::new(named(Place::Gpu), Place::Gpu);
    let before: Vec<Vec<f32>> = g.to_vecs();
    g.set(1, &Tensor::full(&[1], 42.0, Place::Cpu32));
    let after = g.to_vecs();
    assert_eq!(after[1], vec![42.0]);
    for i in [0, 2, 3, 4] {
        assert_eq!(after[i], before[i], "writing p1 changed p{i}");
    }
    // The flat layout holds each parameter at its offset and zeros in the padding.
    let flat = g.flat().to_vec();
    assert_eq!(flat.len(), g.flat_len());
    assert_eq!(flat.iter().filter(|x| **x != 0.0).count(), g.numel());
    // Ops read views correctly: a sum over p4 equals the sum of its values.
    let s = sgw::ops::sum_all(g.get(4)).item();
    let want: f64 = before[4].iter().map(|&x| x as f64).sum();
    assert!((s - want).abs() < 1e-4, "{s} vs {want}");
}

/// A step whose guard (loss + squared gradient norm) is not finite leaves parameters and
/// moments untouched, on the GPU without a readback.
#[test]
fn non_finite_step_is_skipped() {
    use sgw::optim::adam::guard;
    for place in [Place::Gpu, Place::Cpu64] {
        let mut group = ParamGroup::new(named(place), place);
        let mut adam = Adam::new(&group, AdamConfig::default());
        let before = group.to_vecs();
        let mut gs = grads(&group, 1);
        let n = gs[2].as_ref().unwrap().numel();
        let mut bad = vec![0.5f32; n];
        bad[n / 2] = f32::NAN;
        gs[2] = Some(Tensor::from_vec(bad, &[n], place));
        let flat = group.gather(&gs);
        let loss = Tensor::scalar(1.0, place);
        adam.step_flat(&mut group, &flat, &guard(&loss, &flat));
        assert_eq!(
            group.to_vecs(),
            before,
            "{place:?}: weights changed by a NaN step"
        );
        assert!(adam.moments().0.to_vec().iter().all(|x| *x == 0.0));
        // A finite step afterwards still works.
        let gs = grads(&group, 2);
        let flat = group.gather(&gs);
        adam.step_flat(&mut group, &flat, &guard(&loss, &flat));
        assert_ne!(group.to_vecs(), before);
    }
}

/// The guard's sum of squares (one pass, no squared copy): GPU f32 with poisoned outputs
/// against the CPU in f64, at lengths that split into rows and one that cannot (a prime),
/// and a NaN or an infinity anywhere makes it non-finite.
#[test]
fn sum_of_squares_matches_the_cpu_and_sees_every_element() {
    use sgw::ops::reduce::sum_of_squares;
    for n in [1usize, 63, 4096 * 3, 8192 * 5 + 64, 100_003] {
        let x = rand_uniform(&[n], 5, n as u64, -2.0, 2.0, Place::Cpu64);
        let want: f64 = x.to_vec_f64().iter().map(|v| v * v).sum();
        let cpu = sum_of_squares(&x).item();
        assert!(
            (cpu - want).abs() <= 1e-12 * want,
            "n={n}: cpu {cpu} vs {want}"
        );
        let gpu = {
            let _poison = sgw::gpu::set_poison(true);
            sum_of_squares(&x.to_gpu()).item()
        };
        // f32 accumulation over up to 1e5 terms in rows then row sums.
        assert!(
            (gpu - want).abs() <= 1e-5 * want,
            "n={n}: gpu {gpu} vs {want}"
        );
        for bad in [f64::NAN, f64::INFINITY] {
            let mut v = x.to_vec_f64();
            v[n - 1] = bad;
            let t = Tensor::from_vec_f64(v, &[n], Place::Gpu);
            assert!(
                !sum_of_squares(&t).item().is_finite(),
                "n={n}: {bad} missed"
            );
        }
    }
}
