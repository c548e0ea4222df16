//! `generate`: pictures from a checkpoint's G_ema. The resolution, fade and model come from
//! the checkpoint, so there is no size flag to get wrong.

use std::fs;
use std::path::{Path, PathBuf};

use super::checkpoint::Checkpoint;
use super::device::{self, DeviceChoice};
use super::error::{FileOp, TrainError};
use super::pictures;
use super::trainer::Trainer;
use crate::nn::{lerp, NoiseMode};
use crate::ops;
use crate::tensor::{Place, Tensor};

#[derive(clap::Args, Debug, Clone)]
pub struct GenerateArgs {
    /// A checkpoint file or a run directory.
    #[arg(long)]
    pub ckpt: PathBuf,
    /// The grid is n x n.
    #[arg(long, default_value_t = 4)]
    pub grid: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Truncation psi (1 = none); applies to the first `cutoff` layers.
    #[arg(long, default_value_t = 1.0)]
    pub truncation: f64,
    #[arg(long, default_value_t = 8)]
    pub cutoff: usize,
    /// Output PNG of the grid; the other pictures go next to it (default <run>/generated.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// z vectors to use (.npy, [n, z_dim], f32 or f64) instead of random ones.
    #[arg(long)]
    pub latents: Option<PathBuf>,
    /// random, const or none.
    #[arg(long, default_value = "random")]
    pub noise: String,
    /// auto (a hardware GPU, else the CPU reference), gpu, software (e.g. lavapipe), cpu.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Same as --device cpu.
    #[arg(long, hide = true)]
    pub cpu: bool,
    /// Also write the grid's images before quantisation: little-endian f32 .npy [n, C, R, R]
    /// (for comparing with `tools/pytorch_bench.py --load ... --npy`).
    #[arg(long)]
    pub npy: Option<PathBuf>,
}

/// The command line's defaults, for callers in code: `GenerateArgs { ckpt, ..Default::default() }`
/// keeps compiling when a flag is added.
impl Default for GenerateArgs {
    fn default() -> Self {
        GenerateArgs {
            ckpt: PathBuf::new(),
            grid: 4,
            seed: 1,
            truncation: 1.0,
            cutoff: 8,
            out: None,
            latents: None,
            noise: "random".into(),
            device: DeviceChoice::Auto,
            cpu: false,
            npy: None,
        }
    }
}

/// Read a 2-D little-endian f32/f64 .npy array.
pub fn read_npy(path: &Path) -> Result<(Vec<f32>, Vec<usize>), TrainError> {
    let b = fs::read(path).map_err(FileOp::Access.on(path))?;
    let bad = |why: &str| TrainError::Npy {
        path: path.to_path_buf(),
        message: why.into(),
    };
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(
        b.get(start..start + hlen)
            .ok_or_else(|| bad("truncated header"))?,
    )
    .map_err(|_| bad("bad header"))?;
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran-ordered arrays are not supported"));
    }
    let shape_txt = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = shape_txt
        .trim_start_matches([' ', '('])
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data = &b[start + hlen..];
    let n: usize = shape.iter().product();
    let v: Vec<f32> = if header.contains("<f4") {
        data.get(..n * 4)
            .ok_or_else(|| bad("truncated data"))?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else if header.contains("<f8") {
        data.get(..n * 8)
            .ok_or_else(|| bad("truncated data"))?
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect()
    } else {
        return Err(bad("dtype must be little-endian f32 or f64"));
    };
    Ok((v, shape))
}

/// Write a little-endian f32 .npy array (format 1.0, C order) that `read_npy` and NumPy read.
pub fn write_npy(path: &Path, data: &[f32], shape: &[usize]) -> Result<(), TrainError> {
    let n: usize = shape.iter().product();
    let bad = |message: String| TrainError::Npy {
        path: path.to_path_buf(),
        message,
    };
    if n != data.len() {
        return Err(bad(format!(
            "shape {shape:?} holds {n} values, got {}",
            data.len()
        )));
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_txt = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let hlen = u16::try_from(header.len()).map_err(|_| bad("header too long".into()))?;
    let mut b = Vec::with_capacity(10 + header.len() + 4 * n);
    b.extend_from_slice(b"\x93NUMPY\x01\x00");
    b.extend_from_slice(&hlen.to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    for v in data {
        b.extend_from_slice(&v.to_le_bytes());
    }
    fs::write(path, b).map_err(FileOp::Write.on(path))
}

fn save(
    img: &[f32],
    n: usize,
    c: usize,
    res: usize,
    cols: usize,
    path: &Path,
) -> Result<(), TrainError> {
    pictures::save_png(
        &pictures::enlarge(&pictures::grid(img, n, c, res, cols), 256),
        path,
    )
}

pub fn generate(a: &GenerateArgs) -> Result<(), TrainError> {
    let ck = Checkpoint::load(&a.ckpt)?;
    let choice = if a.cpu { DeviceChoice::Cpu } else { a.device };
    let placement = device::place(choice)?;
    if placement.place != Place::Gpu {
        println!("{}", placement.note);
    }
    let place = placement.place;
    let t: Trainer = ck.trainer(place)?;
    let (res, alpha) = match t.point() {
        Some(p) => (p.res, p.alpha),
        None => (t.schedule.phases.last().map_or(4, |p| p.res), 1.0),
    };
    let noise = match a.noise.as_str() {
        "random" => NoiseMode::Random {
            seed: a.seed,
            step: 0,
            first: 0,
        },
        "const" => NoiseMode::Const { seed: t.cfg.seed },
        "none" => NoiseMode::None,
        o => {
            return Err(TrainError::invalid(format!(
                "--noise {o}: use random, const or none"
            )))
        }
    };
    let zd = t.cfg.model.z_dim;
    let c = t.cfg.model.channels;
    let n = a.grid.max(1) * a.grid.max(1);
    let z = match &a.latents {
        Some(p) => {
            let (v, shape) = read_npy(p)?;
            if shape.len() != 2 || shape[1] != zd {
                return Err(TrainError::Npy {
                    path: p.clone(),
                    message: format!("latents must be [n, {zd}], got {shape:?}"),
                });
            }
            Tensor::from_vec(v, &shape, place)
        }
        None => ops::rand_normal(&[n, zd], a.seed, 0, 0.0, 1.0, place),
    };
    let n = z.dim(0);
    let out = a.out.clone().unwrap_or_else(|| {
        ck.path
            .parent()
            .unwrap_or(Path::new("."))
            .join("generated.png")
    });
    let stem = out.with_extension("");
    // As `Trainer::sample`, but with `--cutoff` (which the interpolation and mixing use too).
    let imgs = crate::autograd::no_grad(|| {
        let w = t.g.mapping(&t.g_ema, &z);
        let styles =
            t.g.truncate(&t.g.broadcast_styles(&w), &t.w_avg, a.truncation, a.cutoff);
        t.g.synthesis(&t.g_ema, &styles, res, alpha, noise)
    })
    .to_vec();
    let cols = (n as f64).sqrt().ceil() as usize;
    save(&imgs, n, c, res, cols, &out)?;
    if let Some(p) = &a.npy {
        write_npy(p, &imgs, &[n, c, res, res])?;
    }
    // Individual images.
    let dir = PathBuf::from(format!("{}-images", stem.display()));
    fs::create_dir_all(&dir)?;
    let per = c * res * res;
    for i in 0..n {
        pictures::save_png(
            &pictures::grid(&imgs[i * per..(i + 1) * per], 1, c, res, 1),
            &dir.join(format!("{i:04}.png")),
        )?;
    }
    // Latent interpolation between the first two latents (in w space), strip and GIF.
    let z2 = if n >= 2 {
        ops::slice(&z, 0, 0, 2)
    } else {
        ops::rand_normal(&[2, zd], a.seed + 1, 0, 0.0, 1.0, place)
    };
    let steps = 9;
    let frames: Vec<Vec<f32>> = crate::autograd::no_grad(|| {
        let w = t.g.mapping(&t.g_ema, &z2);
        let (w0, w1) = (ops::slice(&w, 0, 0, 1), ops::slice(&w, 0, 1, 1));
        (0..steps)
            .map(|k| {
                let wk = lerp(&w0, &w1, k as f64 / (steps - 1) as f64);
                let styles =
                    t.g.truncate(&t.g.broadcast_styles(&wk), &t.w_avg, a.truncation, a.cutoff);
                t.g.synthesis(&t.g_ema, &styles, res, alpha, noise).to_vec()
            })
            .collect()
    });
    let strip: Vec<f32> = frames.concat();
    save(
        &strip,
        steps,
        c,
        res,
        steps,
        &PathBuf::from(format!("{}-interp.png", stem.display())),
    )?;
    let gif_frames: Vec<_> = frames
        .iter()
        .map(|f| pictures::enlarge(&pictures::grid(f, 1, c, res, 1), 256))
        .collect();
    pictures::gif(
        &gif_frames,
        &PathBuf::from(format!("{}-interp.gif", stem.display())),
    )?;
    // Style mixing: rows take coarse styles from A, columns fine styles from B.
    let k = 4usize;
    let za = ops::rand_normal(&[k, zd], a.seed + 2, 0, 0.0, 1.0, place);
    let zb = ops::rand_normal(&[k, zd], a.seed + 3, 0, 0.0, 1.0, place);
    let cross = (t.g.layers_at(res) / 2).max(1);
    let mix: Vec<f32> = crate::autograd::no_grad(|| {
        let (wa, wb) = (t.g.mapping(&t.g_ema, &za), t.g.mapping(&t.g_ema, &zb));
        let mut cells = Vec::new();
        for i in 0..k {
            for j in 0..k {
                let s =
                    t.g.mix_styles(&ops::slice(&wa, 0, i, 1), &ops::slice(&wb, 0, j, 1), cross);
                let s = t.g.truncate(&s, &t.w_avg, a.truncation, a.cutoff);
                cells.extend(t.g.synthesis(&t.g_ema, &s, res, alpha, noise).to_vec());
            }
        }
        cells
    });
    save(
        &mix,
        k * k,
        c,
        res,
        k,
        &PathBuf::from(format!("{}-mixing.png", stem.display())),
    )?;
    println!(
        "{res}x{res} samples from {}: {} (and -images/, -interp.png/.gif, -mixing.png)",
        ck.path.display(),
        out.display()
    );
    Ok(())
}
