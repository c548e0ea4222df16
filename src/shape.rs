//! Floor 0: shape arithmetic shared by every floor: row-major strides and numpy broadcasting.

/// Number of elements of a shape (1 for a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C-order) strides, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// The numpy broadcast of two shapes, or None when they are incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Strides with which an input of shape `input` is read for each axis of the broadcast
/// shape `out`: 0 on broadcast (and missing leading) axes.
pub fn broadcast_strides(input: &[usize], out: &[usize]) -> Vec<usize> {
    let st = strides(input);
    let lead = out.len() - input.len();
    (0..out.len())
        .map(|d| {
            if d < lead || input[d - lead] == 1 {
                0
            } else {
                st[d - lead]
            }
        })
        .collect()
}

/// The offset into an input read through `in_strides` for linear index `i` of `shape`.
#[inline]
pub fn offset_of(mut i: usize, shape: &[usize], in_strides: &[usize]) -> usize {
    let mut off = 0;
    for d in (0..shape.len()).rev() {
        off += (i % shape[d]) * in_strides[d];
        i /= shape[d];
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_shapes(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shapes(&[2, 3], &[3, 2]), None);
        assert_eq!(broadcast_strides(&[4, 1], &[2, 4, 3]), vec![0, 1, 0]);
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(offset_of(5, &[2, 3], &[1, 2]), 1 + 2 * 2);
    }
}
