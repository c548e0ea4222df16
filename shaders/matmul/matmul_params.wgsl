// The matmul kernels' parameters and bindings (matmul.wgsl, matmul_wide.wgsl): C[z] =
// alpha * A[z] (m x k) B[z] (k x n), each operand read through its batch, row and column
// strides from its offset (in floats); C row-major and contiguous.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_batch: u32,
    a_row: u32,
    a_col: u32,
    b_batch: u32,
    b_row: u32,
    b_col: u32,
    a_off: u32,
    b_off: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
