//! What a new user brings on day one: colour and mixed image folders, a config file with a
//! typo, flags out of range, `--resume` with flags, an old checkpoint, a machine without a
//! GPU driver. Each either works or stops with a clear message before a run directory is
//! written.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{losses, scratch, tiny};
use sgw::train::checkpoint::Checkpoint;
use sgw::train::device::DeviceChoice;
use sgw::train::generate::{generate, GenerateArgs};
use sgw::train::run::{train, TrainArgs};
use sgw::Place;

/// A tiny run on the CPU reference (fast; the WGSL path is covered by tests/train.rs).
fn args(root: &Path, dataset: &str, out: &str) -> TrainArgs {
    let cfg = root.join("tiny.toml");
    fs::write(&cfg, tiny(0.032)).unwrap();
    TrainArgs {
        dataset: dataset.into(),
        out: Some(root.join(out)),
        config: Some(cfg),
        preset: Some("small".into()),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    }
}

fn saved_channels(run: &Path) -> usize {
    Checkpoint::load(run).unwrap().config.model.channels
}

/// Train a few steps on `data` and generate from the result; returns the image channels.
fn train_and_generate(root: &Path, data: &Path, name: &str) -> usize {
    let a = TrainArgs {
        data: Some(data.to_path_buf()),
        ..args(root, "folder", name)
    };
    train(&a).unwrap_or_else(|e| panic!("{name}: {e}"));
    let run = root.join(name);
    let out = root.join(format!("{name}-g.png"));
    let npy = root.join(format!("{name}-g.npy"));
    generate(&GenerateArgs {
        ckpt: run.clone(),
        grid: 2,
        out: Some(out.clone()),
        npy: Some(npy.clone()),
        noise: "const".into(),
        cpu: true,
        ..GenerateArgs::default()
    })
    .unwrap();
    assert!(out.is_file());
    let (_, shape) = sgw::train::generate::read_npy(&npy).unwrap();
    assert_eq!(
        shape[1],
        saved_channels(&run),
        "generate used another channel count"
    );
    saved_channels(&run)
}

fn write_folder(root: &Path, kinds: &[&str]) -> PathBuf {
    let d = root.join("images");
    fs::create_dir_all(&d).unwrap();
    for (i, kind) in kinds.iter().enumerate() {
        let p = d.join(format!("{i:02}.png"));
        let v = |x: u32, y: u32| ((x * 13 + y * 7 + i as u32 * 29) % 256) as u8;
        let img: image::DynamicImage = match *kind {
            "l8" => image::GrayImage::from_fn(20, 20, |x, y| image::Luma([v(x, y)])).into(),
            "la8" => {
                image::GrayAlphaImage::from_fn(20, 20, |x, y| image::LumaA([v(x, y), 255])).into()
            }
            "rgb8" => image::RgbImage::from_fn(20, 20, |x, y| {
                image::Rgb([v(x, y), v(y, x), 255 - v(x, y)])
            })
            .into(),
            "rgba8" => {
                image::RgbaImage::from_fn(20, 20, |x, y| image::Rgba([v(x, y), 40, v(y, x), 200]))
                    .into()
            }
            "l16" => image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(20, 20, |x, y| {
                image::Luma([v(x, y) as u16 * 257])
            })
            .into(),
            other => panic!("{other}"),
        };
        img.save(&p).unwrap();
    }
    d
}

#[test]
fn rgb_mixed_and_grey_folders_train_and_generate_with_their_own_channels() {
    let root = scratch("user-folders");
    let rgb = write_folder(&root.join("rgb"), &["rgb8"; 6]);
    assert_eq!(train_and_generate(&root, &rgb, "rgb"), 3);
    let mixed = write_folder(
        &root.join("mixed"),
        &["l8", "la8", "rgb8", "rgba8", "l16", "l8"],
    );
    assert_eq!(train_and_generate(&root, &mixed, "mixed"), 3);
    let grey = write_folder(&root.join("grey"), &["l8", "l16", "la8", "l8"]);
    assert_eq!(train_and_generate(&root, &grey, "grey"), 1);
}

#[test]
fn asking_for_other_channels_than_the_dataset_names_both() {
    let root = scratch("user-channels");
    let rgb = write_folder(&root, &["rgb8"; 2]);
    let a = TrainArgs {
        data: Some(rgb.clone()),
        channels: Some(1),
        ..args(&root, "folder", "run")
    };
    let e = train(&a).unwrap_err().to_string();
    assert!(
        e.contains("3 channels") && e.contains("--channels asks for 1"),
        "{e}"
    );
    assert!(
        !root.join("run").exists(),
        "a run directory was left behind"
    );
    // The same through the config file.
    let cfg = root.join("c.toml");
    let text = tiny(0.032).replace("max_res = 8", "max_res = 8\nchannels = 1");
    fs::write(&cfg, text).unwrap();
    let a = TrainArgs {
        data: Some(rgb),
        config: Some(cfg.clone()),
        ..args(&root, "folder", "run")
    };
    let e = train(&a).unwrap_err().to_string();
    assert!(
        e.contains("3 channels") && e.contains("c.toml asks for 1"),
        "{e}"
    );
    assert!(!root.join("run").exists());
}

/// `train` must fail with a message containing every `want`, leaving no run directory.
fn refuses(a: &TrainArgs, want: &[&str]) {
    let e = train(a).expect_err("bad input was accepted").to_string();
    for w in want {
        assert!(e.contains(w), "{e:?} lacks {w:?}");
    }
    assert!(
        !a.out.as_ref().unwrap().exists(),
        "a run directory was written for bad input: {e}"
    );
}

#[test]
fn config_typos_and_wrong_types_are_errors_with_the_line() {
    let root = scratch("user-config");
    let cfg = root.join("typo.toml");
    fs::write(&cfg, tiny(0.032).replace("max_res = 8", "max_ress = 8")).unwrap();
    let a = TrainArgs {
        config: Some(cfg),
        ..args(&root, "oasis", "run")
    };
    refuses(
        &a,
        &["typo.toml:12:1", "unknown key `max_ress`", "`max_res`"],
    );
    let cfg = root.join("type.toml");
    fs::write(
        &cfg,
        tiny(0.032).replace("max_res = 8", "max_res = \"sixteen\""),
    )
    .unwrap();
    let a = TrainArgs {
        config: Some(cfg),
        ..args(&root, "oasis", "run")
    };
    refuses(&a, &["type.toml:12:11", "must be an integer, not a string"]);
}

#[test]
fn numeric_flags_are_checked_before_any_work() {
    let root = scratch("user-flags");
    let base = args(&root, "oasis", "run");
    let cases: Vec<(TrainArgs, &str)> = vec![
        (
            TrainArgs {
                lr: Some(f64::NAN),
                ..base.clone()
            },
            "--lr must be a finite number > 0, got NaN",
        ),
        (
            TrainArgs {
                lr: Some(-1e-3),
                ..base.clone()
            },
            "--lr",
        ),
        (
            TrainArgs {
                kimg: Some(0.0),
                ..base.clone()
            },
            "--kimg must be a finite number > 0",
        ),
        (
            TrainArgs {
                kimg: Some(f64::INFINITY),
                ..base.clone()
            },
            "--kimg",
        ),
        (
            TrainArgs {
                batch: Some(0),
                ..base.clone()
            },
            "--batch must be at least 1",
        ),
        (
            TrainArgs {
                max_res: Some(12),
                ..base.clone()
            },
            "--max-res must be a power of two >= 4",
        ),
        (
            TrainArgs {
                max_res: Some(2),
                ..base.clone()
            },
            "--max-res",
        ),
        (
            TrainArgs {
                sample_every: Some(-1.0),
                ..base.clone()
            },
            "--sample-every",
        ),
        (
            TrainArgs {
                checkpoint_every: Some(f64::NAN),
                ..base.clone()
            },
            "--checkpoint-every",
        ),
    ];
    for (a, want) in cases {
        refuses(&a, &[want]);
    }
}

#[test]
fn resume_applies_safe_flags_says_so_and_refuses_the_rest() {
    let root = scratch("user-resume");
    let mut first = args(&root, "oasis", "run");
    first.stop_after_steps = Some(2);
    train(&first).unwrap();
    let run = root.join("run");
    let resume = TrainArgs {
        dataset: "oasis".into(),
        resume: Some(run.clone()),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    };
    for (a, want) in [
        (
            TrainArgs {
                seed: Some(9),
                ..resume.clone()
            },
            "--seed 9 cannot change a run trained with 1",
        ),
        (
            TrainArgs {
                loss: Some("logistic-r1".parse().unwrap()),
                ..resume.clone()
            },
            "--loss logistic-r1 cannot change a run trained with wgan-gp",
        ),
        (
            TrainArgs {
                preset: Some("full".into()),
                ..resume.clone()
            },
            "--preset",
        ),
        (
            TrainArgs {
                channels: Some(3),
                ..resume.clone()
            },
            "--channels",
        ),
        (
            TrainArgs {
                config: Some(root.join("tiny.toml")),
                ..resume.clone()
            },
            "--config applies to new runs",
        ),
        (
            TrainArgs {
                dataset: "mnist".into(),
                ..resume.clone()
            },
            "dataset mnist cannot change a run trained with oasis",
        ),
    ] {
        let e = train(&a)
            .expect_err("a flag that cannot change on resume was accepted")
            .to_string();
        assert!(e.contains(want), "{e:?} lacks {want:?}");
    }
    assert_eq!(losses(&run).len(), 1 + 2, "a refused resume trained");
    // 2 steps of batch 4 = 8 images into the first 16-image phase. --kimg 0.008 ends that
    // phase now; the two later phases take 8 images each.
    train(&TrainArgs {
        kimg: Some(0.008),
        sample_every: Some(0.008),
        ..resume.clone()
    })
    .unwrap();
    let rows = losses(&run);
    assert_eq!(rows.len(), 1 + 2 + 2 + 2, "{rows:#?}");
    assert!(
        rows[3].contains(",8,fade,"),
        "phase 1 (fade to 8x8) starts right after: {rows:#?}"
    );
    let cfg = fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("kimg_per_phase = 0.008"), "{cfg}");
    assert!(cfg.contains("sample_every_kimg = 0.008"), "{cfg}");
    let log = fs::read_to_string(run.join("log.txt")).unwrap();
    assert!(
        log.contains("resume: kimg per phase 0.016 -> 0.008"),
        "{log}"
    );
    assert!(
        log.contains("resume: sample every 0.032 -> 0.008 kimg"),
        "{log}"
    );
    // The run has reached 8x8: it cannot shrink below.
    let e = train(&TrainArgs {
        max_res: Some(4),
        ..resume.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("--max-res 4 is below 8x8"), "{e}");
    // A higher max resolution grows the model and trains on.
    train(&TrainArgs {
        max_res: Some(16),
        ..resume.clone()
    })
    .unwrap();
    let ck = Checkpoint::load(&run).unwrap();
    assert_eq!(ck.config.model.max_res, 16);
    assert_eq!(ck.number("images").unwrap(), 8 + 4 * 8);
    let rows = losses(&run);
    assert!(rows.last().unwrap().contains(",16,fade,"), "{rows:#?}");
    let log = fs::read_to_string(run.join("log.txt")).unwrap();
    assert!(log.contains("resume: max resolution 8 -> 16"), "{log}");
}

#[test]
fn resume_with_data_moved_elsewhere_checks_it_is_the_same() {
    let root = scratch("user-moved");
    let imgs = write_folder(&root.join("a"), &["l8"; 4]);
    let mut first = TrainArgs {
        data: Some(imgs.clone()),
        ..args(&root, "folder", "run")
    };
    first.stop_after_steps = Some(1);
    train(&first).unwrap();
    let moved = root.join("moved-images");
    fs::rename(&imgs, &moved).unwrap();
    let resume = TrainArgs {
        dataset: "folder".into(),
        resume: Some(root.join("run")),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    };
    // Without --data the old path is gone: a clear error.
    assert!(train(&resume)
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
    // Another dataset at the new path is refused.
    let other = write_folder(&root.join("b"), &["rgb8"; 4]);
    let e = train(&TrainArgs {
        data: Some(other),
        ..resume.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("not the one this run trained on"), "{e}");
    train(&TrainArgs {
        data: Some(moved.clone()),
        ..resume.clone()
    })
    .unwrap();
    let log = fs::read_to_string(root.join("run/log.txt")).unwrap();
    assert!(log.contains("resume: dataset path"), "{log}");
    let cfg = Checkpoint::load(&root.join("run")).unwrap().config;
    assert_eq!(
        cfg.data.path.as_deref(),
        Some(moved.display().to_string().as_str())
    );
}

/// Rewrite a checkpoint in the v1 layout: G, G_ema and opt_G with a bias after each synthesis
/// conv weight (the moments' bias slots hold a marker that must not leak anywhere).
fn to_v1(src: &Path, dst: &Path) {
    use safetensors::{tensor::TensorView, Dtype, SafeTensors};
    let bytes = fs::read(src).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, md) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = md.metadata().clone().unwrap();
    meta.insert("format".into(), "sgw-stylegan1-v1".into());
    let cfg = sgw::train::TrainConfig::from_toml(&meta["config"]).unwrap();
    let gp = sgw::nn::Generator::build(&cfg.model, cfg.seed, Place::Cpu32).1;
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            (
                n,
                v.shape().to_vec(),
                bytemuck::pod_collect_to_vec(v.data()),
            )
        })
        .collect();
    // The old flat layout, parameter by parameter.
    let mut layout: Vec<(usize, Option<usize>)> = Vec::new();
    let mut extra = Vec::new();
    for (i, name) in gp.names().iter().enumerate() {
        layout.push((gp.get(i).numel(), Some(i)));
        if name.starts_with("g.synthesis.") && name.ends_with(".conv.weight") {
            let cout = gp.get(i).shape()[0];
            layout.push((cout, None));
            let bias = name.replace(".weight", ".bias");
            for p in ["G", "G_ema"] {
                extra.push((format!("{p}/{bias}"), vec![cout], vec![0.0f32; cout]));
            }
        }
    }
    let (old_off, old_len) = sgw::params::ParamGroup::layout(layout.iter().map(|l| l.0));
    for key in ["opt_G/m", "opt_G/v"] {
        let new = tensors.iter().find(|t| t.0 == key).unwrap().2.clone();
        let mut old = vec![0.0f32; old_len];
        for (&(n, i), &o) in layout.iter().zip(&old_off) {
            match i {
                Some(i) => old[o..o + n].copy_from_slice(&new[gp.offset(i)..gp.offset(i) + n]),
                None => old[o..o + n].fill(7.0),
            }
        }
        let t = tensors.iter_mut().find(|t| t.0 == key).unwrap();
        t.1 = vec![old_len];
        t.2 = old;
    }
    tensors.extend(extra);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), bytemuck::cast_slice(v)).unwrap(),
            )
        })
        .collect();
    fs::write(dst, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

#[test]
fn a_checkpoint_with_the_old_unused_generator_biases_still_loads() {
    let root = scratch("user-v1");
    let mut a = args(&root, "oasis", "run");
    a.stop_after_steps = Some(3);
    train(&a).unwrap();
    let new = root.join("run/checkpoint.safetensors");
    let old = root.join("old.safetensors");
    to_v1(&new, &old);
    let want = Checkpoint::load(&new)
        .unwrap()
        .trainer(Place::Cpu32)
        .unwrap();
    let got = Checkpoint::load(&old)
        .unwrap()
        .trainer(Place::Cpu32)
        .unwrap();
    assert_eq!(got.gp.names(), want.gp.names());
    assert_eq!(got.gp.to_vecs(), want.gp.to_vecs());
    assert_eq!(got.g_ema.to_vecs(), want.g_ema.to_vecs());
    for (g, w) in [(&got.adam_g, &want.adam_g), (&got.adam_d, &want.adam_d)] {
        let (gm, gv) = g.moments();
        let (wm, wv) = w.moments();
        assert_eq!(gm.to_vec(), wm.to_vec());
        assert_eq!(gv.to_vec(), wv.to_vec());
        assert!(!gm.to_vec().contains(&7.0), "a dropped bias slot leaked");
    }
}

#[test]
fn without_a_gpu_driver_the_main_command_trains_on_the_cpu_and_says_so() {
    let root = scratch("user-nodriver");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan-wgpu"))
        .args([
            "train",
            "oasis",
            "--max-res",
            "8",
            "--kimg",
            "0.01",
            "--quiet",
            "--out",
        ])
        .arg(root.join("run"))
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("no hardware GPU found")
            && text.contains("running on the CPU reference backend"),
        "{text}"
    );
    assert!(text.contains("phantom"), "{text}");
    assert!(root.join("run/checkpoint.safetensors").is_file());
}
