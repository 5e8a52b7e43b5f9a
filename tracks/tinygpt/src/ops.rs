//! Fused CPU kernels with hand-written backward passes: plain functions on slices (which the
//! training pass in `model/pass.rs` calls) and the same kernels as candle custom ops (which
//! `Gpt::forward` uses, and which the tests check against finite differences).
//!
//! Editable (model code). candle 0.11's fast CPU layer norm, `softmax_last_dim` and `rms_norm`
//! silently stop gradients, and its element-wise and broadcast kernels dominate the step time
//! of a model this small, so the model's non-matmul work lives here: token+position
//! embedding, layer norm, tanh-GELU, causal self-attention and softmax cross-entropy; also a
//! matrix multiply straight through `gemm` and the node that ties a loss computed outside
//! candle's graph back into its autograd. Each kernel expects contiguous f32 input, splits
//! work over rayon in fixed blocks and reduces in a fixed order, so results do not depend on
//! scheduling. Nothing here keeps state between calls beyond one op's stash for its backward.
use std::sync::{Arc, Mutex};

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp3, Device, Layout, Result, Shape, Storage, Tensor,
};
use rayon::prelude::*;

/// Rows handled per parallel task.
const ROW_BLOCK: usize = 32;

/// The contiguous f32 data behind a layout.
fn f32s<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("fused op needs contiguous input"),
    }
}

fn u32s<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [u32]> {
    let data = s.as_slice::<u32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("fused op needs contiguous ids"),
    }
}

/// Runs `f` on a tensor's contiguous f32 data (copying first only if it is strided).
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => f(f32s(s, layout)?),
        _ => bail!("fused ops run on the CPU only"),
    }
}

fn with_u32<R>(t: &Tensor, f: impl FnOnce(&[u32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => f(u32s(s, layout)?),
        _ => bail!("fused ops run on the CPU only"),
    }
}

fn tensor(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &Device::Cpu)
}

/// exp(x) for f32 in a form the compiler vectorises: 2^n · 2^f with a degree-7 polynomial
/// (fused multiply-adds), relative error about 1e-7; inputs are clamped to [-87, 88].
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E;
    // Round to nearest by the 1.5·2^23 trick (no libm call, vectorises).
    let n = (t + 12_582_912.0) - 12_582_912.0;
    let u = (t - n) * std::f32::consts::LN_2;
    let mut p: f32 = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.mul_add(u, c);
    }
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// Sum in LANES independent partial sums, which the compiler vectorises (a plain sequential
/// float sum cannot be reordered, so it would stay scalar).
#[inline]
fn sum_lanes(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum, vectorised the same way.
#[inline]
fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in chunks {
        for l in 0..LANES {
            acc[l] = acc[l].max(c[l]);
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

/// In place: `x = exp(x - max(x)) / sum`, a numerically safe softmax of one row. Returns
/// (max, sum), so that log-sum-exp = max + ln(sum).
#[inline]
fn softmax_in_place(x: &mut [f32]) -> (f32, f32) {
    let max = max_lanes(x);
    for v in x.iter_mut() {
        *v = fast_exp(*v - max);
    }
    let sum = sum_lanes(x);
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
    (max, sum)
}

/// Sums equally long partial vectors in order (deterministic).
fn sum_partials(partials: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    for p in partials {
        for (o, x) in out.iter_mut().zip(&p) {
            *o += x;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Embedding: x[b*T + t] = wte[ids[b, t]] + wpe[t]

/// Writes the embedding of ids (rows of `t` positions) into `out` (ids.len() × C), where C is
/// the width of `wpe`, which must hold at least `t` positions.
pub(crate) fn embed_rows(
    ids: &[u32],
    t: usize,
    wte: &[f32],
    wpe: &[f32],
    out: &mut [f32],
) -> Result<()> {
    let c = out.len() / ids.len().max(1);
    if wpe.len() < t * c || !wte.len().is_multiple_of(c.max(1)) {
        bail!(
            "embed: position table of {} values too small for {t} positions",
            wpe.len()
        );
    }
    let vocab = wte.len() / c.max(1);
    for (row, (o, &id)) in out.chunks_exact_mut(c).zip(ids).enumerate() {
        let id = id as usize;
        if id >= vocab {
            bail!("embed: token id {id} out of range");
        }
        let (te, pe) = (
            &wte[id * c..(id + 1) * c],
            &wpe[(row % t) * c..(row % t + 1) * c],
        );
        for ((o, a), p) in o.iter_mut().zip(te).zip(pe) {
            *o = a + p;
        }
    }
    Ok(())
}

/// Gradients (d wte, d wpe) of the embedding from the gradient `g` of its output.
pub(crate) fn embed_backward(
    ids: &[u32],
    t: usize,
    g: &[f32],
    vocab: usize,
    n_pos: usize,
    c: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut dwte = vec![0.0f32; vocab * c];
    let mut dwpe = vec![0.0f32; n_pos * c];
    for (row, (g, &id)) in g.chunks_exact(c).zip(ids).enumerate() {
        let id = id as usize;
        let p = row % t;
        for (d, x) in dwte[id * c..(id + 1) * c].iter_mut().zip(g) {
            *d += x;
        }
        for (d, x) in dwpe[p * c..(p + 1) * c].iter_mut().zip(g) {
            *d += x;
        }
    }
    (dwte, dwpe)
}

struct Embed;

impl CustomOp3 for Embed {
    fn name(&self) -> &'static str {
        "fused-embed"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let ids = u32s(s1, l1)?;
        let (wte, wpe) = (f32s(s2, l2)?, f32s(s3, l3)?);
        let (b, t) = l1.shape().dims2()?;
        let c = l2.shape().dims2()?.1;
        if l3.shape().dims2()?.1 != c {
            bail!(
                "embed: position table {:?} does not match width {c}",
                l3.shape()
            );
        }
        let mut out = vec![0.0f32; b * t * c];
        embed_rows(ids, t, wte, wpe, &mut out)?;
        Ok((CpuStorage::F32(out), Shape::from((b * t, c))))
    }

    fn bwd(
        &self,
        ids: &Tensor,
        wte: &Tensor,
        wpe: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, t) = ids.dims2()?;
        let (vocab, c) = wte.dims2()?;
        let n_pos = wpe.dims2()?.0;
        let (dwte, dwpe) = with_u32(ids, |ids| {
            with_f32(grad, |g| Ok(embed_backward(ids, t, g, vocab, n_pos, c)))
        })?;
        Ok((
            None,
            Some(tensor(dwte, &[vocab, c])?),
            Some(tensor(dwpe, &[n_pos, c])?),
        ))
    }
}

/// Token plus position embedding: ids (B, T) u32, wte (V, C), wpe (>=T, C) -> (B*T, C).
pub fn embed(ids: &Tensor, wte: &Tensor, wpe: &Tensor) -> Result<Tensor> {
    ids.apply_op3(wte, wpe, Embed)
}

// ---------------------------------------------------------------------------------------------
// Layer norm over the last dimension with weight and bias.

struct LayerNorm {
    eps: f32,
}

/// Mean and 1/std of one row.
#[inline]
fn row_stats(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = sum_lanes(x) / n;
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += (c[l] - mean) * (c[l] - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + tail) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Layer norm of each row of `x` (rows of `w.len()` values) into `out`.
pub(crate) fn layer_norm_rows(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
    let c = w.len();
    out.par_chunks_mut(ROW_BLOCK * c)
        .zip(x.par_chunks(ROW_BLOCK * c))
        .for_each(|(o, x)| {
            for (o, x) in o.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
                let (mean, rstd) = row_stats(x, eps);
                for (((o, x), w), b) in o.iter_mut().zip(x).zip(w).zip(b) {
                    *o = (x - mean) * rstd * w + b;
                }
            }
        });
}

/// Backward pass of [`layer_norm_rows`] for the output gradient `g`: writes (or, with `add`,
/// adds) the input gradient into `dx` and returns the gradients of weight and bias.
pub(crate) fn layer_norm_backward(
    x: &[f32],
    w: &[f32],
    g: &[f32],
    eps: f32,
    dx: &mut [f32],
    add: bool,
) -> (Vec<f32>, Vec<f32>) {
    let c = w.len();
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(ROW_BLOCK * c)
        .zip(x.par_chunks(ROW_BLOCK * c).zip(g.par_chunks(ROW_BLOCK * c)))
        .map(|(dx, (x, g))| {
            let mut dw = vec![0.0f32; c];
            let mut db = vec![0.0f32; c];
            let mut xhat = vec![0.0f32; c];
            for ((dx, x), g) in dx
                .chunks_exact_mut(c)
                .zip(x.chunks_exact(c))
                .zip(g.chunks_exact(c))
            {
                let (mean, rstd) = row_stats(x, eps);
                let mut sum_gw = 0.0f32;
                let mut sum_gwx = 0.0f32;
                for i in 0..c {
                    let xh = (x[i] - mean) * rstd;
                    xhat[i] = xh;
                    let gw = g[i] * w[i];
                    sum_gw += gw;
                    sum_gwx += gw * xh;
                    dw[i] += g[i] * xh;
                    db[i] += g[i];
                }
                let (m1, m2) = (sum_gw / c as f32, sum_gwx / c as f32);
                for i in 0..c {
                    let d = rstd * (g[i] * w[i] - m1 - xhat[i] * m2);
                    dx[i] = if add { dx[i] + d } else { d };
                }
            }
            (dw, db)
        })
        .collect();
    let (dws, dbs): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
    (sum_partials(dws, c), sum_partials(dbs, c))
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (f32s(s1, l1)?, f32s(s2, l2)?, f32s(s3, l3)?);
        let c = w.len();
        if b.len() != c || x.len() % c != 0 {
            bail!("layer norm: input {:?} vs weight {c}", l1.shape());
        }
        let mut out = vec![0.0f32; x.len()];
        layer_norm_rows(x, w, b, self.eps, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let eps = self.eps;
        let (dx, dw, db) = with_f32(x, |x| {
            with_f32(w, |w| {
                with_f32(grad, |g| {
                    let mut dx = vec![0.0f32; x.len()];
                    let (dw, db) = layer_norm_backward(x, w, g, eps, &mut dx, false);
                    Ok((dx, dw, db))
                })
            })
        })?;
        Ok((
            Some(tensor(dx, x.dims())?),
            Some(tensor(dw, w.dims())?),
            Some(tensor(db, w.dims())?),
        ))
    }
}

/// The epsilon of every layer norm in the model.
pub const LN_EPS: f32 = 1e-5;

/// Layer norm of the last dimension of a contiguous (N, C) tensor.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.apply_op3(weight, bias, LayerNorm { eps: LN_EPS })
}

// ---------------------------------------------------------------------------------------------
// GELU, tanh approximation (as GPT-2).

const GELU_K: f32 = 0.797_884_6; // sqrt(2/pi)
const GELU_C: f32 = 0.044_715;

struct Gelu;

/// Elements per parallel task of element-wise kernels.
const ELEM_BLOCK: usize = 8192;

/// GELU of every element of `x`, into `out` (same length).
// 0.5·x·(1 + tanh(u)) = x·sigmoid(2u) with u = k(x + c·x³).
pub(crate) fn gelu_rows(x: &[f32], out: &mut [f32]) {
    out.par_chunks_mut(ELEM_BLOCK)
        .zip(x.par_chunks(ELEM_BLOCK))
        .for_each(|(o, x)| {
            for (o, &x) in o.iter_mut().zip(x) {
                let u2 = 2.0 * GELU_K * x * GELU_C.mul_add(x * x, 1.0);
                *o = x / (1.0 + fast_exp(-u2));
            }
        });
}

/// Gradient of [`gelu_rows`] at `x` for the output gradient `g`, into `dx`.
pub(crate) fn gelu_backward(x: &[f32], g: &[f32], dx: &mut [f32]) {
    dx.par_chunks_mut(ELEM_BLOCK)
        .zip(x.par_chunks(ELEM_BLOCK).zip(g.par_chunks(ELEM_BLOCK)))
        .for_each(|(d, (x, g))| {
            for ((d, &x), &g) in d.iter_mut().zip(x).zip(g) {
                let u2 = 2.0 * GELU_K * x * GELU_C.mul_add(x * x, 1.0);
                let s = 1.0 / (1.0 + fast_exp(-u2));
                let du2 = 2.0 * GELU_K * (3.0 * GELU_C).mul_add(x * x, 1.0);
                *d = g * (s + x * s * (1.0 - s) * du2);
            }
        });
}

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32s(s, l)?;
        let mut out = vec![0.0f32; x.len()];
        gelu_rows(x, &mut out);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let dx = with_f32(x, |x| {
            with_f32(grad, |g| {
                let mut dx = vec![0.0f32; x.len()];
                gelu_backward(x, g, &mut dx);
                Ok(dx)
            })
        })?;
        Ok(Some(tensor(dx, x.dims())?))
    }
}

/// Element-wise GELU (tanh approximation).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.apply_op1(Gelu)
}

// ---------------------------------------------------------------------------------------------
// Causal multi-head self-attention on packed q|k|v rows.

struct CausalAttention {
    batch: usize,
    time: usize,
    heads: usize,
    /// Attention probabilities of the forward pass, (B, H, T, T rounded up to LANES), kept for
    /// the backward pass.
    probs: Mutex<Vec<f32>>,
}

impl CausalAttention {
    fn shape(&self, rows: usize, width: usize) -> Result<AttentionShape> {
        let (b, t, h) = (self.batch, self.time, self.heads);
        if rows != b * t || !width.is_multiple_of(3) || !(width / 3).is_multiple_of(h) {
            bail!("attention: qkv ({rows}, {width}) does not fit B={b} T={t} H={h}");
        }
        Ok(AttentionShape {
            batch: b,
            time: t,
            heads: h,
            head_dim: width / 3 / h,
        })
    }
}

/// SIMD width the attention kernels block for (16 f32 = one AVX-512 register).
const LANES: usize = 16;

/// Copies column block `off..off+d` of the first `t` rows of `rows` (row stride `width`)
/// into `dst` transposed: `dst[e * stride + j] = rows[j * width + off + e]`, zero-padding
/// columns `t..stride`.
fn transpose_into(
    dst: &mut [f32],
    rows: &[f32],
    width: usize,
    off: usize,
    d: usize,
    t: usize,
    stride: usize,
) {
    dst.fill(0.0);
    for j in 0..t {
        for e in 0..d {
            dst[e * stride + j] = rows[j * width + off + e];
        }
    }
}

/// `out[j] = Σ_e a[e] · mt[e * stride + j]` for `j < n`, in blocks of LANES (`out` must hold
/// `n` rounded up to LANES; `mt` is zero-padded to `stride`).
#[inline]
fn row_times_transposed(a: &[f32], mt: &[f32], stride: usize, n: usize, out: &mut [f32]) {
    for jb in 0..n.div_ceil(LANES) {
        let mut acc = [0.0f32; LANES];
        for (e, &ae) in a.iter().enumerate() {
            let m = &mt[e * stride + jb * LANES..e * stride + jb * LANES + LANES];
            for l in 0..LANES {
                acc[l] = ae.mul_add(m[l], acc[l]);
            }
        }
        out[jb * LANES..jb * LANES + LANES].copy_from_slice(&acc);
    }
}

/// `out[..d] (+)= Σ_{j<n} w[j] · rows[j * width + off ..][..d]`, accumulating in registers.
#[inline]
fn weighted_row_sum(w: &[f32], rows: &[f32], width: usize, off: usize, out: &mut [f32], add: bool) {
    let d = out.len();
    let mut c0 = 0;
    while c0 < d {
        let len = LANES.min(d - c0);
        let mut acc = [0.0f32; LANES];
        if add {
            acc[..len].copy_from_slice(&out[c0..c0 + len]);
        }
        for (j, &wj) in w.iter().enumerate() {
            let r = &rows[j * width + off + c0..j * width + off + c0 + len];
            if len == LANES {
                for l in 0..LANES {
                    acc[l] = wj.mul_add(r[l], acc[l]);
                }
            } else {
                for l in 0..len {
                    acc[l] = wj.mul_add(r[l], acc[l]);
                }
            }
        }
        out[c0..c0 + len].copy_from_slice(&acc[..len]);
        c0 += len;
    }
}

/// `row += a · x`.
#[inline]
fn axpy(a: f32, x: &[f32], row: &mut [f32]) {
    for (r, &x) in row.iter_mut().zip(x) {
        *r = a.mul_add(x, *r);
    }
}

/// Shape of one attention call: batch, positions, heads, head width.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttentionShape {
    pub batch: usize,
    pub time: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl AttentionShape {
    /// Positions padded to the SIMD width: the row stride of the stored probabilities.
    fn padded(&self) -> usize {
        self.time.div_ceil(LANES) * LANES
    }

    /// Length of the probabilities buffer that [`attention_forward`] fills.
    pub(crate) fn probs_len(&self) -> usize {
        self.batch * self.heads * self.time * self.padded()
    }
}

/// Causal attention of packed q|k|v rows (B*T, 3C) into `out` (B*T, C); stores the
/// probabilities in `probs` ([`AttentionShape::probs_len`] values) for the backward pass.
pub(crate) fn attention_forward(
    s: AttentionShape,
    qkv: &[f32],
    out: &mut [f32],
    probs: &mut [f32],
) {
    let (t, h, d) = (s.time, s.heads, s.head_dim);
    let (c, tp) = (h * d, s.padded());
    let width = 3 * c;
    let scale = 1.0 / (d as f32).sqrt();
    out.par_chunks_mut(t * c)
        .zip(probs.par_chunks_mut(h * t * tp))
        .enumerate()
        .for_each(|(b, (y, probs))| {
            let qkv = &qkv[b * t * width..(b + 1) * t * width];
            let mut kt = vec![0.0f32; d * tp]; // this head's keys, transposed: (D, TP)
            let mut q = vec![0.0f32; d];
            for head in 0..h {
                transpose_into(&mut kt, qkv, width, c + head * d, d, t, tp);
                for i in 0..t {
                    let n = i + 1;
                    for (q, &x) in q.iter_mut().zip(&qkv[i * width + head * d..]) {
                        *q = x * scale;
                    }
                    let p = &mut probs[(head * t + i) * tp..(head * t + i + 1) * tp];
                    row_times_transposed(&q, &kt, tp, n, p);
                    let p = &mut p[..n];
                    softmax_in_place(p);
                    let yi = &mut y[i * c + head * d..i * c + head * d + d];
                    weighted_row_sum(p, qkv, width, 2 * c + head * d, yi, false);
                }
            }
        });
}

/// Adds the gradient (B*T, 3C) of [`attention_forward`]'s input for the output gradient `g`
/// (B*T, C) to `dqkv` (zeros, for the gradient alone).
pub(crate) fn attention_backward(
    s: AttentionShape,
    qkv: &[f32],
    probs: &[f32],
    g: &[f32],
    dqkv: &mut [f32],
) {
    let (t, h, d) = (s.time, s.heads, s.head_dim);
    let (c, tp) = (h * d, s.padded());
    let width = 3 * c;
    let scale = 1.0 / (d as f32).sqrt();
    dqkv.par_chunks_mut(t * width)
        .enumerate()
        .for_each(|(b, dqkv)| {
            let qkv = &qkv[b * t * width..(b + 1) * t * width];
            let g = &g[b * t * c..(b + 1) * t * c];
            let mut vt = vec![0.0f32; d * tp];
            let mut dp = vec![0.0f32; tp];
            let mut ds = vec![0.0f32; tp];
            for head in 0..h {
                let probs = &probs[(b * h + head) * t * tp..(b * h + head + 1) * t * tp];
                let (qo, ko, vo) = (head * d, c + head * d, 2 * c + head * d);
                transpose_into(&mut vt, qkv, width, vo, d, t, tp);
                for i in 0..t {
                    let n = i + 1;
                    let gi = &g[i * c + head * d..i * c + head * d + d];
                    let p = &probs[i * tp..i * tp + n];
                    // dP_ij = g_i · v_j
                    row_times_transposed(gi, &vt, tp, n, &mut dp);
                    let dot: f32 = p.iter().zip(&dp[..n]).map(|(p, x)| p * x).sum();
                    for j in 0..n {
                        ds[j] = p[j] * (dp[j] - dot) * scale;
                    }
                    // dQ_i = Σ_j dS_ij k_j
                    let dq = &mut dqkv[i * width + qo..i * width + qo + d];
                    weighted_row_sum(&ds[..n], qkv, width, ko, dq, false);
                    let q = &qkv[i * width + qo..i * width + qo + d];
                    for j in 0..n {
                        let row = &mut dqkv[j * width..(j + 1) * width];
                        axpy(ds[j], q, &mut row[ko..ko + d]);
                        axpy(p[j], gi, &mut row[vo..vo + d]);
                    }
                }
            }
        });
}

impl CustomOp1 for CausalAttention {
    fn name(&self) -> &'static str {
        "fused-causal-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let qkv = f32s(s, l)?;
        let (rows, width) = l.shape().dims2()?;
        let shape = self.shape(rows, width)?;
        let mut probs = vec![0.0f32; shape.probs_len()];
        let mut out = vec![0.0f32; rows * width / 3];
        attention_forward(shape, qkv, &mut out, &mut probs);
        *self
            .probs
            .lock()
            .expect("attention stash is never poisoned") = probs;
        Ok((CpuStorage::F32(out), Shape::from((rows, width / 3))))
    }

    fn bwd(&self, qkv: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (rows, width) = qkv.dims2()?;
        let shape = self.shape(rows, width)?;
        let probs = self
            .probs
            .lock()
            .expect("attention stash is never poisoned");
        if probs.len() != shape.probs_len() {
            bail!("attention backward before forward");
        }
        let dqkv = with_f32(qkv, |qkv| {
            with_f32(grad, |g| {
                let mut dqkv = vec![0.0f32; rows * width];
                attention_backward(shape, qkv, &probs, g, &mut dqkv);
                Ok(dqkv)
            })
        })?;
        Ok(Some(tensor(dqkv, &[rows, width])?))
    }
}

/// Causal self-attention: `qkv` is (B*T, 3C) with queries, keys and values side by side, each
/// split into `heads` heads; returns (B*T, C).
pub fn causal_attention(qkv: &Tensor, batch: usize, time: usize, heads: usize) -> Result<Tensor> {
    qkv.apply_op1(CausalAttention {
        batch,
        time,
        heads,
        probs: Mutex::new(Vec::new()),
    })
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy, mean over rows, in nats.

#[cfg(test)]
struct CrossEntropy {
    /// Softmax of the logits from the forward pass, kept for the backward pass.
    probs: Mutex<Vec<f32>>,
}

/// Mean softmax cross-entropy (nats) of logit rows against targets (all below the row
/// width); leaves the softmax of each row in `probs` (same size as `logits`).
pub(crate) fn cross_entropy_rows(logits: &[f32], targets: &[u32], probs: &mut [f32]) -> f64 {
    let n = targets.len();
    let v = logits.len() / n.max(1);
    let mut losses = vec![0.0f32; n];
    probs
        .par_chunks_mut(ROW_BLOCK * v)
        .zip(logits.par_chunks(ROW_BLOCK * v))
        .zip(
            losses
                .par_chunks_mut(ROW_BLOCK)
                .zip(targets.par_chunks(ROW_BLOCK)),
        )
        .for_each(|((p, x), (loss, tg))| {
            for (((p, x), loss), &tg) in p
                .chunks_exact_mut(v)
                .zip(x.chunks_exact(v))
                .zip(loss.iter_mut())
                .zip(tg)
            {
                p.copy_from_slice(x);
                let (max, sum) = softmax_in_place(p);
                *loss = max + sum.ln() - x[tg as usize];
            }
        });
    losses.iter().map(|&l| l as f64).sum::<f64>() / n as f64
}

/// Turns the softmax rows left by [`cross_entropy_rows`] into the gradient of the summed
/// losses times `scale`, in place.
pub(crate) fn cross_entropy_backward(probs: &mut [f32], targets: &[u32], scale: f32) {
    let v = probs.len() / targets.len().max(1);
    probs
        .par_chunks_mut(v)
        .zip(targets.par_iter())
        .for_each(|(row, &tg)| {
            row[tg as usize] -= 1.0;
            for x in row.iter_mut() {
                *x *= scale;
            }
        });
}

#[cfg(test)]
impl candle_core::CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "fused-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (logits, targets) = (f32s(s1, l1)?, u32s(s2, l2)?);
        let (n, v) = l1.shape().dims2()?;
        if targets.len() != n || targets.iter().any(|&t| t as usize >= v) {
            bail!("cross-entropy: targets do not match logits ({n}, {v})");
        }
        let mut probs = vec![0.0f32; n * v];
        let mean = cross_entropy_rows(logits, targets, &mut probs);
        *self
            .probs
            .lock()
            .expect("cross-entropy stash is never poisoned") = probs;
        Ok((CpuStorage::F32(vec![mean as f32]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, v) = logits.dims2()?;
        let g = grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()? / n as f32;
        let mut d = std::mem::take(&mut *self.probs.lock().expect("never poisoned"));
        if d.len() != n * v {
            bail!("cross-entropy backward called twice or before forward");
        }
        with_u32(targets, |targets| {
            cross_entropy_backward(&mut d, targets, g);
            Ok(())
        })?;
        Ok((Some(tensor(d, &[n, v])?), None))
    }
}

/// Mean softmax cross-entropy (nats) of logits (N, V) against u32 targets (N): the
/// reference the training pass is tested against.
#[cfg(test)]
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    logits.apply_op2(
        targets,
        CrossEntropy {
            probs: Mutex::new(Vec::new()),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Matrix multiply straight through the `gemm` crate (the kernel under candle's own matmul),
// with transposes as strides and the residual add folded into the product.

/// A read-only matrix over a slice: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major (rows, cols) matrix.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, without copying.
    pub(crate) fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// `out = a · b`, or `out += a · b` with `add`; `out` is row-major (a.rows, b.cols). Each
/// output element is reduced by one thread in a fixed order, as in candle's matmul.
pub(crate) fn matmul(a: MatRef, b: MatRef, out: &mut [f32], add: bool) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || out.len() != m * n || !a.fits() || !b.fits() {
        bail!(
            "matmul: ({m}, {k}) x ({}, {n}) into {} values",
            b.rows,
            out.len()
        );
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the shapes and strides were checked against the slices above, and `out` is an
    // exclusive, contiguous (m, n) buffer that aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            add,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if add { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A loss computed outside candle's graph, tied back into it so that `loss.backward()` still
// yields every parameter's gradient. Candle would otherwise allocate, zero and add a gradient
// tensor per activation; here the whole backward pass is one hand-written function and candle
// only sees the parameters.

/// The hand-written backward pass of a routed loss: given d(output)/d(loss), the gradient of
/// every parameter, in the order the parameters were given.
pub(crate) type Backward = Box<dyn FnOnce(f32) -> Result<Vec<Tensor>> + Send>;

/// Parameter gradients between the backward pass and the links that hand them to candle.
type Slots = Arc<Mutex<Vec<Option<Tensor>>>>;

fn scalar_zero() -> Result<Tensor> {
    Tensor::zeros((), candle_core::DType::F32, &Device::Cpu)
}

/// A graph node over up to three inputs (parameters, or the previous link) whose backward
/// hands out the parameters' stored gradients. Its value is a dummy zero.
struct Link {
    slots: Slots,
    /// The parameter index of each input; `None` for the previous link or padding.
    params: [Option<usize>; 3],
}

impl Link {
    fn grad(&self, k: usize, arg: &Tensor) -> Result<Option<Tensor>> {
        match self.params[k] {
            Some(i) => {
                let mut slots = self
                    .slots
                    .lock()
                    .expect("gradient slots are never poisoned");
                match slots.get_mut(i).and_then(Option::take) {
                    Some(g) => Ok(Some(g)),
                    None => bail!("routed loss: no gradient for parameter {i}"),
                }
            }
            None if arg.rank() == 0 => Ok(Some(scalar_zero()?)),
            None => Ok(None),
        }
    }
}

impl CustomOp3 for Link {
    fn name(&self) -> &'static str {
        "routed-loss-link"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(vec![0.0]), Shape::from(())))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        _grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        Ok((self.grad(0, a)?, self.grad(1, b)?, self.grad(2, c)?))
    }
}

/// The loss node: its value is the loss, its backward runs the whole hand-written backward
/// pass once and fills the slots the links read.
struct RoutedLoss {
    value: f32,
    slots: Slots,
    backward: Mutex<Option<Backward>>,
}

impl CustomOp1 for RoutedLoss {
    fn name(&self) -> &'static str {
        "routed-loss"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(vec![self.value]), Shape::from(())))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let run = self
            .backward
            .lock()
            .expect("routed loss is never poisoned")
            .take();
        let Some(run) = run else {
            bail!("routed loss: backward called twice");
        };
        let grads = run(grad.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?)?;
        *self
            .slots
            .lock()
            .expect("gradient slots are never poisoned") = grads.into_iter().map(Some).collect();
        Ok(Some(scalar_zero()?))
    }
}

/// A scalar tensor of value `value` whose `backward()` gives each of `params` the gradient
/// that `backward` computes (it must return one tensor per parameter, shaped like it).
pub(crate) fn routed_loss(value: f32, params: &[Tensor], backward: Backward) -> Result<Tensor> {
    let slots: Slots = Arc::new(Mutex::new(Vec::new()));
    let pad = scalar_zero()?;
    let mut prev: Option<Tensor> = None;
    let mut i = 0;
    while i < params.len() || prev.is_none() {
        let mut args = Vec::with_capacity(3);
        let mut ids = [None; 3];
        if let Some(p) = prev.take() {
            args.push(p);
        }
        while args.len() < 3 && i < params.len() {
            ids[args.len()] = Some(i);
            args.push(params[i].clone());
            i += 1;
        }
        while args.len() < 3 {
            args.push(pad.clone());
        }
        let link = Link {
            slots: slots.clone(),
            params: ids,
        };
        prev = Some(args[0].apply_op3(&args[1], &args[2], link)?);
    }
    let root = prev.expect("the loop makes at least one link");
    root.apply_op1(RoutedLoss {
        value,
        slots,
        backward: Mutex::new(Some(backward)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use candle_core::Var;

    fn randn(rng: &mut Rng, shape: &[usize], std: f64) -> Var {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| (rng.normal() * std) as f32).collect();
        Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu).unwrap()).unwrap()
    }

    /// Checks d(sum(f(vars) * r))/d(var) against central finite differences at a few
    /// coordinates of every variable.
    fn grad_check(vars: &[Var], f: &dyn Fn() -> Result<Tensor>) {
        let mut rng = Rng::new(99);
        let out = f().unwrap();
        let r = randn(&mut rng, out.dims(), 1.0).as_tensor().clone();
        let objective = || -> f64 {
            let o = f().unwrap();
            o.mul(&r)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_dtype(candle_core::DType::F64)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let loss = f().unwrap().mul(&r).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        for (k, var) in vars.iter().enumerate() {
            let g = grads
                .get(var.as_tensor())
                .expect("gradient reaches every input");
            let g: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            let base: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            for _ in 0..12 {
                let i = rng.below(base.len());
                let eps = 1e-2f32;
                let mut plus = base.clone();
                plus[i] += eps;
                var.set(&Tensor::from_vec(plus, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let lp = objective();
                let mut minus = base.clone();
                minus[i] -= eps;
                var.set(&Tensor::from_vec(minus, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let lm = objective();
                var.set(&Tensor::from_vec(base.clone(), var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                let numeric = (lp - lm) / (2.0 * eps as f64);
                let analytic = g[i] as f64;
                assert!(
                    (numeric - analytic).abs() <= 2e-2 * numeric.abs().max(analytic.abs()) + 2e-3,
                    "input {k} coordinate {i}: finite difference {numeric} vs autograd {analytic}"
                );
            }
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        // Away from the underflow end, where results become subnormal.
        for i in -1750..2000 {
            let x = i as f32 * 0.04;
            let rel = (fast_exp(x) as f64 - (x as f64).exp()).abs() / (x as f64).exp();
            // x·log2(e) is rounded to f32 first, so the error grows with |x|.
            let tolerance = if x.abs() <= 10.0 { 1e-6 } else { 1e-5 };
            assert!(rel < tolerance, "exp({x}) relative error {rel}");
        }
    }

    #[test]
    fn layer_norm_gradients() {
        let mut rng = Rng::new(1);
        let x = randn(&mut rng, &[5, 16], 1.0);
        let w = randn(&mut rng, &[16], 1.0);
        let b = randn(&mut rng, &[16], 1.0);
        grad_check(&[x.clone(), w.clone(), b.clone()], &|| {
            layer_norm(&x, &w, &b)
        });
        // Forward against the textbook formula from candle primitives.
        let y = layer_norm(&x, &w, &b).unwrap();
        let mean = x.mean_keepdim(1).unwrap();
        let xc = x.broadcast_sub(&mean).unwrap();
        let var = xc.sqr().unwrap().mean_keepdim(1).unwrap();
        let reference = xc
            .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&w)
            .unwrap()
            .broadcast_add(&b)
            .unwrap();
        let diff = (y - reference)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "layer norm differs from reference by {diff}");
    }

    #[test]
    fn gelu_gradients() {
        let mut rng = Rng::new(2);
        let x = randn(&mut rng, &[7, 9], 2.0);
        grad_check(std::slice::from_ref(&x), &|| gelu(&x));
    }

    #[test]
    fn embedding_gradients() {
        let mut rng = Rng::new(3);
        let wte = randn(&mut rng, &[11, 8], 1.0);
        let wpe = randn(&mut rng, &[6, 8], 1.0);
        let ids: Vec<u32> = (0..10).map(|_| rng.below(11) as u32).collect();
        let ids = Tensor::from_vec(ids, (2, 5), &Device::Cpu).unwrap();
        grad_check(&[wte.clone(), wpe.clone()], &|| embed(&ids, &wte, &wpe));
    }

    #[test]
    fn attention_gradients_and_causality() {
        let mut rng = Rng::new(4);
        let (b, t, h, d) = (2, 5, 2, 4);
        let qkv = randn(&mut rng, &[b * t, 3 * h * d], 1.0);
        grad_check(std::slice::from_ref(&qkv), &|| {
            causal_attention(&qkv, b, t, h)
        });
        // Changing the last position must not change earlier outputs.
        let y = causal_attention(&qkv, b, t, h).unwrap();
        let mut data: Vec<f32> = qkv.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        for x in &mut data[(t - 1) * 3 * h * d..t * 3 * h * d] {
            *x += 1.0;
        }
        let moved = Tensor::from_vec(data, (b * t, 3 * h * d), &Device::Cpu).unwrap();
        let y2 = causal_attention(&moved, b, t, h).unwrap();
        let early = |y: &Tensor| {
            y.narrow(0, 0, t - 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(early(&y), early(&y2));
    }

    #[test]
    fn cross_entropy_gradients_and_value() {
        let mut rng = Rng::new(5);
        let logits = randn(&mut rng, &[6, 10], 2.0);
        let targets: Vec<u32> = (0..6).map(|_| rng.below(10) as u32).collect();
        let targets = Tensor::from_vec(targets, 6, &Device::Cpu).unwrap();
        grad_check(std::slice::from_ref(&logits), &|| {
            cross_entropy(&logits, &targets)
        });
        let value = cross_entropy(&logits, &targets)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let x: Vec<Vec<f32>> = logits.as_tensor().to_vec2().unwrap();
        let t: Vec<u32> = targets.to_vec1().unwrap();
        let reference: f64 = x
            .iter()
            .zip(&t)
            .map(|(row, &tg)| {
                let lse = row.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
                lse - row[tg as usize] as f64
            })
            .sum::<f64>()
            / 6.0;
        assert!(
            (value as f64 - reference).abs() < 1e-5,
            "{value} vs {reference}"
        );
    }
}
