//! A dataset's fingerprint: which images a run trained on, so `--resume --data NEW_PLACE`
//! can tell the same dataset moved from a different one.

use rayon::prelude::*;

use super::{hash3, splitmix, Dataset};

const CHUNK: usize = 1 << 20;

impl Dataset {
    /// "<count> x <c>x<r>x<r> <hash>": the image count and shape, and a 64-bit hash of every
    /// pixel at the native resolution (order included). Equal pixels give equal text.
    pub fn fingerprint(&self) -> String {
        let pixels = self.at_resolution(self.resolution);
        let parts: Vec<u64> = pixels
            .par_chunks(CHUNK)
            .map(|chunk| {
                chunk.chunks(8).fold(chunk.len() as u64, |h, w| {
                    let mut b = [0u8; 8];
                    b[..w.len()].copy_from_slice(w);
                    splitmix(h ^ u64::from_le_bytes(b))
                })
            })
            .collect();
        let h = parts
            .iter()
            .fold(pixels.len() as u64, |h, &p| hash3(h, p, 0x6669_6e67));
        format!(
            "{} x {}x{r}x{r} {h:016x}",
            self.len,
            self.channels,
            r = self.resolution
        )
    }
}
