//! Progressive growing, measured in images shown: a stable phase at the start resolution,
//! then for each higher resolution a fade-in phase (alpha 0 -> 1) and a stable phase.

use super::config::TrainConfig;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    pub res: usize,
    pub fade: bool,
    /// Images shown when the phase starts.
    pub start: u64,
    pub len: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub phase: usize,
    pub res: usize,
    pub fade: bool,
    pub alpha: f64,
    /// Images into the phase.
    pub into: u64,
}

pub struct Schedule {
    pub phases: Vec<Phase>,
}

impl Schedule {
    pub fn new(cfg: &TrainConfig) -> Self {
        let len = (cfg.kimg_per_phase * 1000.0).round().max(1.0) as u64;
        let mut phases = Vec::new();
        let mut start = 0;
        for res in cfg
            .model
            .resolutions()
            .into_iter()
            .filter(|&r| r >= cfg.model.start_res)
        {
            let fades = if res == cfg.model.start_res {
                vec![false]
            } else {
                vec![true, false]
            };
            for fade in fades {
                let len = cfg.phase_images.get(phases.len()).copied().unwrap_or(len);
                phases.push(Phase {
                    res,
                    fade,
                    start,
                    len,
                });
                start += len;
            }
        }
        Schedule { phases }
    }

    pub fn total(&self) -> u64 {
        self.phases.last().map_or(0, |p| p.start + p.len)
    }

    /// Resolution of the phase `images` falls in, or of the last phase once finished.
    pub fn res_at(&self, images: u64) -> usize {
        self.at(images)
            .map(|p| p.res)
            .or_else(|| self.phases.last().map(|p| p.res))
            .unwrap_or(4)
    }

    /// Where training stands after `images` images; None once finished.
    pub fn at(&self, images: u64) -> Option<Point> {
        let (i, p) = self
            .phases
            .iter()
            .enumerate()
            .find(|(_, p)| images < p.start + p.len)?;
        let into = images - p.start;
        let alpha = if p.fade {
            into as f64 / p.len as f64
        } else {
            1.0
        };
        Some(Point {
            phase: i,
            res: p.res,
            fade: p.fade,
            alpha,
            into,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_alternate_fade_and_stable_and_alpha_ramps() {
        let mut cfg = TrainConfig::small();
        cfg.model.max_res = 16;
        cfg.kimg_per_phase = 1.0;
        let s = Schedule::new(&cfg);
        let kinds: Vec<(usize, bool)> = s.phases.iter().map(|p| (p.res, p.fade)).collect();
        assert_eq!(
            kinds,
            [(4, false), (8, true), (8, false), (16, true), (16, false)]
        );
        assert_eq!(s.total(), 5000);
        let p = s.at(1500).unwrap();
        assert_eq!((p.res, p.fade), (8, true));
        assert!((p.alpha - 0.5).abs() < 1e-12);
        assert_eq!(s.at(2500).unwrap().alpha, 1.0);
        assert!(s.at(5000).is_none());
    }

    #[test]
    fn fixed_phase_lengths_come_first() {
        let mut cfg = TrainConfig::small();
        cfg.model.max_res = 8;
        cfg.kimg_per_phase = 1.0;
        cfg.phase_images = vec![300, 700];
        let s = Schedule::new(&cfg);
        let spans: Vec<(u64, u64)> = s.phases.iter().map(|p| (p.start, p.len)).collect();
        assert_eq!(spans, [(0, 300), (300, 700), (1000, 1000)]);
        assert_eq!(s.res_at(299), 4);
        assert_eq!(s.res_at(300), 8);
        assert_eq!(s.res_at(99_999), 8);
    }
}
