// A sum over the workgroup through workgroup memory, shared by the kernels that reduce one
// row or plane per workgroup (AdaIN forward and backward, pixel norm, minibatch stddev,
// sum_rows). The including kernel runs `@workgroup_size(WG)` (1-D) and may set WG, a power of
// two up to 256, as a pipeline constant. Every invocation must call reduce_sum, in uniform
// control flow; each gets the total. Pairs are added in a fixed tree (stride WG/2, WG/4, ...,
// 1), so a kernel's result does not depend on the device.

// Threads per workgroup of the including kernel.
override WG: u32 = 256u;

var<workgroup> red: array<f32, 256>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
    // red may be written again by the next call only after everyone has read the total.
    workgroupBarrier();
    return total;
}
