//! The same small G and D, built from the same weights and seeds on the GPU and on the CPU
//! reference (f64), run one full training step: the D and G losses and the gradients of
//! a few parameters agree within f32 tolerance.

use sgw::check::Errors;
use sgw::train::{Loss, TrainConfig, Trainer};
use sgw::Place;

fn config(loss: Loss) -> TrainConfig {
    let mut cfg = TrainConfig::small();
    cfg.model.max_res = 8;
    cfg.model.z_dim = 32;
    cfg.model.w_dim = 32;
    cfg.model.fmap_base = 64;
    cfg.model.fmap_max = 16;
    cfg.set_batch(4);
    cfg.kimg_per_phase = 0.008;
    cfg.loss = loss;
    cfg
}

/// f32 on the GPU against f64 on the CPU through a whole network, its gradient penalty
/// (a second-order gradient) and the parameter gradients: errors compound over ~40 ops, so
/// the bound is 1e-3 relative (with the harness's 1% floor), not the 1e-4 of a single op.
const TOL: f64 = 1e-3;

#[test]
fn one_training_step_matches_the_cpu_reference() {
    for loss in [Loss::WganGp, Loss::LogisticR1] {
        let mut tg = Trainer::new(config(loss), Place::Gpu);
        let mut tc = Trainer::new(config(loss), Place::Cpu64);
        // Go to the 8x8 fade-in so both blends are exercised.
        tg.progress.images = 8;
        tc.progress.images = 8;
        tg.progress.phase = 1;
        tc.progress.phase = 1;
        let pt = tc.point().unwrap();
        assert!(pt.fade && pt.res == 8);
        let reals = sgw::ops::rand_uniform(&[4, 1, 8, 8], 9, 0, -1.0, 1.0, Place::Cpu64);
        let (dl_g, dg_g) = tg.d_pass(&reals.to_gpu(), &pt);
        let (dl_c, dg_c) = tc.d_pass(&reals, &pt);
        let e = Errors::of(&[dl_g.item()], &[dl_c.item()], 1e-2);
        assert!(
            e.max_rel < TOL,
            "{loss:?} D loss {} vs {}",
            dl_g.item(),
            dl_c.item()
        );
        for name in [
            "d.from_rgb.8x8.weight",
            "d.8x8.conv1_down.weight",
            "d.4x4.conv.weight",
            "d.4x4.dense1.bias",
        ] {
            let i = tc.dp.index(name).unwrap();
            let e = Errors::of(&dg_g[i].to_vec_f64(), &dg_c[i].to_vec_f64(), 1e-2);
            assert!(e.max_rel < TOL, "{loss:?} grad {name}: {e}");
        }
        let (gl_g, gg_g, _) = tg.g_pass(4, &pt);
        let (gl_c, gg_c, _) = tc.g_pass(4, &pt);
        let e = Errors::of(&[gl_g.item()], &[gl_c.item()], 1e-2);
        assert!(
            e.max_rel < TOL,
            "{loss:?} G loss {} vs {}",
            gl_g.item(),
            gl_c.item()
        );
        for name in [
            "g.mapping.0.weight",
            "g.synthesis.8x8.0.conv.weight",
            "g.synthesis.4x4.1.style.weight",
            "g.to_rgb.8x8.weight",
        ] {
            let i = tc.gp.index(name).unwrap();
            let e = Errors::of(&gg_g[i].to_vec_f64(), &gg_c[i].to_vec_f64(), 1e-2);
            assert!(e.max_rel < TOL, "{loss:?} grad {name}: {e}");
        }
        // And the full step (Adam, EMA) keeps them together.
        let rg = tg.step(&reals.to_gpu()).unwrap();
        let rc = tc.step(&reals).unwrap();
        assert!(Errors::of(&[rg.d_loss.item()], &[rc.d_loss.item()], 1e-2).max_rel < TOL);
        let e = Errors::of(
            &tg.g_ema.flat().to_vec_f64(),
            &tc.g_ema.flat().to_vec_f64(),
            1e-2,
        );
        assert!(e.max_rel < TOL, "{loss:?} G_ema after one step: {e}");
    }
}
