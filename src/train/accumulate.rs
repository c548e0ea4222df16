//! Gradient accumulation and its data-parallel form: a step's passes over micro-batches,
//! their sums in a `ParamGroup`'s flat layout, the all-reduce over the ranks, the mean.

use crate::dist::Group;
use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::Tensor;

/// What one micro-batch's pass gives: its loss, its gradients, and (G) its mean w.
pub(super) type Pass = (Tensor, Vec<Tensor>, Option<Tensor>);

/// Run `pass` on this rank's micro-batches (rank·k..(rank+1)·k of ranks.size·k) and average
/// what they give over all of them: the loss, the gradients in `group`'s flat layout (summed
/// there, summed over the ranks, then divided by the number of micro-batches: each loss is a
/// mean over its own share), and the extra value. With one micro-batch in all the single
/// pass is returned as it is, so the unsplit step is bit for bit what it was before
/// accumulation existed.
pub(super) fn accumulated(
    group: &ParamGroup,
    ranks: Group,
    k: usize,
    mut pass: impl FnMut(usize) -> Pass,
) -> (Tensor, Tensor, Option<Tensor>) {
    let mut sum: Option<(Tensor, Tensor, Option<Tensor>)> = None;
    let first = ranks.rank * k;
    for j in first..first + k {
        let (loss, grads, extra) = pass(j);
        let flat = group.gather(&grads.into_iter().map(Some).collect::<Vec<_>>());
        sum = Some(match sum {
            None => (loss, flat, extra),
            Some((l, g, e)) => (&l + &loss, &g + &flat, e.zip(extra).map(|(a, b)| &a + &b)),
        });
    }
    let (loss, flat, extra) = sum.expect("at least one micro-batch");
    let (loss, flat, extra) = if ranks.size > 1 {
        all_reduced(ranks, loss, flat, extra)
    } else {
        (loss, flat, extra)
    };
    let k = k * ranks.size;
    if k == 1 {
        return (loss, flat, extra);
    }
    let mean = |t: &Tensor| ops::mul_scalar(t, 1.0 / k as f64).detach();
    (mean(&loss), mean(&flat), extra.as_ref().map(mean))
}

/// The sums of all ranks: loss, flat gradient and extra go to the host in one vector, are
/// summed there in one all-reduce, and come back to where they were.
fn all_reduced(
    ranks: Group,
    loss: Tensor,
    flat: Tensor,
    extra: Option<Tensor>,
) -> (Tensor, Tensor, Option<Tensor>) {
    let mut host = flat.to_vec();
    let n = host.len();
    host.extend(loss.to_vec());
    if let Some(e) = &extra {
        host.extend(e.to_vec());
    }
    ranks.sum_f32(&mut host);
    let back = |t: &Tensor, from: usize| {
        let len = t.numel();
        Tensor::from_vec(host[from..from + len].to_vec(), t.shape(), t.place())
    };
    let summed = (back(&loss, n), back(&flat, 0));
    let extra = extra.map(|e| back(&e, n + loss.numel()));
    (summed.0, summed.1, extra)
}
