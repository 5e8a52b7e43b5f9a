//! The training pass: the model's forward pass with the activations it keeps, and its
//! backward pass written out by hand, on plain slices.
//!
//! Editable (model code). It computes what `Gpt::forward` followed by cross-entropy computes,
//! with the same kernels (`crate::ops`), but outside candle's graph: candle would allocate,
//! zero-fill and add one gradient tensor per activation, and its element-wise adds run on a
//! second thread pool that competes with rayon for the cores. Matrix products go straight to
//! `gemm` with transposes as strides and residual adds folded into the product. A change to
//! the architecture in `model.rs` must be made here too: a test checks that the loss and every
//! gradient agree with candle's autograd over the separate ops. One `Pass` is one step; the
//! only thing kept between steps is spare memory (`scratch`), never values that are read.
use std::sync::Mutex;

use candle_core::{bail, Result};

use super::Config;
use crate::eval::VOCAB;
use crate::ops::{self, AttentionShape, MatRef, LN_EPS};

/// Parameters per transformer block, in `Gpt::params` order.
const PER_BLOCK: usize = 8;

/// One block's weights, in `Gpt::params` order.
struct BlockWeights<'a> {
    ln1_w: &'a [f32],
    ln1_b: &'a [f32],
    w_qkv: &'a [f32],
    w_proj: &'a [f32],
    ln2_w: &'a [f32],
    ln2_b: &'a [f32],
    w_fc: &'a [f32],
    w_out: &'a [f32],
}

/// What one block keeps for its backward pass.
struct BlockTape {
    /// The block's input (the residual stream).
    x_in: Vec<f32>,
    h1: Vec<f32>,
    qkv: Vec<f32>,
    probs: Vec<f32>,
    /// Attention output, before the projection.
    y: Vec<f32>,
    /// The residual stream after attention.
    x_mid: Vec<f32>,
    h2: Vec<f32>,
    /// MLP pre-activation and its GELU.
    f: Vec<f32>,
    g: Vec<f32>,
}

/// One training step's forward pass, ready to run backward.
pub(super) struct Pass {
    cfg: Config,
    /// Every parameter's values, flattened, in `Gpt::params` order.
    weights: Vec<Vec<f32>>,
    ids: Vec<u32>,
    targets: Vec<u32>,
    time: usize,
    blocks: Vec<BlockTape>,
    x_final: Vec<f32>,
    h_final: Vec<f32>,
    /// Softmax of the logits.
    probs: Vec<f32>,
    /// Mean cross-entropy in nats.
    pub loss: f64,
}

/// Buffers of earlier steps, so that a step neither zero-fills nor page-faults memory that
/// it is about to overwrite in full.
static SPARE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// At most this many spare buffers are kept.
const MAX_SPARE: usize = 256;

/// A buffer of `len` values with unspecified contents (left by an earlier step): only for
/// outputs that are written in full before they are read.
fn scratch(len: usize) -> Vec<f32> {
    let found = {
        let mut spare = SPARE.lock().expect("spare buffers are never poisoned");
        let best = spare
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| spare.swap_remove(i))
    };
    let mut v = found.unwrap_or_else(|| Vec::with_capacity(len));
    v.resize(len, 0.0);
    v
}

/// A buffer of `len` zeros.
fn zeroed(len: usize) -> Vec<f32> {
    let mut v = scratch(len);
    v.fill(0.0);
    v
}

/// Gives buffers back for later steps.
fn recycle(buffers: impl IntoIterator<Item = Vec<f32>>) {
    let mut spare = SPARE.lock().expect("spare buffers are never poisoned");
    for v in buffers {
        if spare.len() < MAX_SPARE && v.capacity() > 0 {
            spare.push(v);
        }
    }
}

/// `x` with `a · w` added, where `a` is (rows, k) and `w` (k, cols).
fn residual(x: &[f32], a: &[f32], w: &[f32], rows: usize, k: usize) -> Result<Vec<f32>> {
    let mut out = scratch(x.len());
    out.copy_from_slice(x);
    let cols = x.len() / rows.max(1);
    ops::matmul(
        MatRef::new(a, rows, k),
        MatRef::new(w, k, cols),
        &mut out,
        true,
    )?;
    Ok(out)
}

/// `a · w` for `a` (rows, k) and `w` (k, cols).
fn linear(a: &[f32], w: &[f32], rows: usize, k: usize, cols: usize) -> Result<Vec<f32>> {
    let mut out = scratch(rows * cols);
    ops::matmul(
        MatRef::new(a, rows, k),
        MatRef::new(w, k, cols),
        &mut out,
        false,
    )?;
    Ok(out)
}

/// Gradients of `a · w` from the output gradient `d` (rows, cols): (d a, d w).
fn linear_backward(
    a: &[f32],
    w: &[f32],
    d: &[f32],
    rows: usize,
    k: usize,
    cols: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (d, w_ref) = (MatRef::new(d, rows, cols), MatRef::new(w, k, cols));
    let mut da = scratch(rows * k);
    ops::matmul(d, w_ref.t(), &mut da, false)?;
    let mut dw = scratch(k * cols);
    ops::matmul(MatRef::new(a, rows, k).t(), d, &mut dw, false)?;
    Ok((da, dw))
}

fn layer_norm(x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut out = scratch(x.len());
    ops::layer_norm_rows(x, w, b, LN_EPS, &mut out);
    out
}

impl Pass {
    fn block(&self, l: usize) -> BlockWeights<'_> {
        let w = &self.weights[2 + l * PER_BLOCK..2 + (l + 1) * PER_BLOCK];
        BlockWeights {
            ln1_w: &w[0],
            ln1_b: &w[1],
            w_qkv: &w[2],
            w_proj: &w[3],
            ln2_w: &w[4],
            ln2_b: &w[5],
            w_fc: &w[6],
            w_out: &w[7],
        }
    }

    /// The final layer norm's weight and bias and the output head.
    fn head(&self) -> (&[f32], &[f32], &[f32]) {
        let n = self.weights.len();
        (
            &self.weights[n - 3],
            &self.weights[n - 2],
            &self.weights[n - 1],
        )
    }

    fn attention_shape(&self) -> AttentionShape {
        AttentionShape {
            batch: self.ids.len() / self.time,
            time: self.time,
            heads: self.cfg.n_head,
            head_dim: self.cfg.n_embd / self.cfg.n_head,
        }
    }

    /// Runs the forward pass of `ids` (rows of `time` positions) against `targets`.
    pub(super) fn forward(
        cfg: Config,
        weights: Vec<Vec<f32>>,
        ids: Vec<u32>,
        targets: Vec<u32>,
        time: usize,
    ) -> Result<Pass> {
        if weights.len() != 2 + cfg.n_layer * PER_BLOCK + 3 {
            bail!("training pass: {} parameters for {cfg:?}", weights.len());
        }
        if time == 0 || !ids.len().is_multiple_of(time) || targets.len() != ids.len() {
            bail!("training pass: ids and targets do not form rows of {time}");
        }
        if targets.iter().any(|&t| t as usize >= VOCAB) {
            bail!("training pass: a target is out of the vocabulary");
        }
        let mut pass = Pass {
            cfg,
            weights,
            ids,
            targets,
            time,
            blocks: Vec::with_capacity(cfg.n_layer),
            x_final: Vec::new(),
            h_final: Vec::new(),
            probs: Vec::new(),
            loss: 0.0,
        };
        let (n, c) = (pass.ids.len(), cfg.n_embd);
        let mut x = scratch(n * c);
        ops::embed_rows(&pass.ids, time, &pass.weights[0], &pass.weights[1], &mut x)?;
        for l in 0..cfg.n_layer {
            let tape = pass.block_forward(l, x)?;
            x = residual(&tape.x_mid, &tape.g, pass.block(l).w_out, n, 4 * c)?;
            pass.blocks.push(tape);
        }
        let (lnf_w, lnf_b, head) = pass.head();
        let h_final = layer_norm(&x, lnf_w, lnf_b);
        let logits = linear(&h_final, head, n, c, VOCAB)?;
        let mut probs = scratch(n * VOCAB);
        pass.loss = ops::cross_entropy_rows(&logits, &pass.targets, &mut probs);
        recycle([logits]);
        pass.x_final = x;
        pass.h_final = h_final;
        pass.probs = probs;
        Ok(pass)
    }

    /// Block `l` up to the MLP's activation, from its input `x`.
    fn block_forward(&self, l: usize, x: Vec<f32>) -> Result<BlockTape> {
        let (n, c) = (self.ids.len(), self.cfg.n_embd);
        let w = self.block(l);
        let h1 = layer_norm(&x, w.ln1_w, w.ln1_b);
        let qkv = linear(&h1, w.w_qkv, n, c, 3 * c)?;
        let shape = self.attention_shape();
        let mut y = scratch(n * c);
        // Only the causal part of each row is written and read.
        let mut probs = scratch(shape.probs_len());
        ops::attention_forward(shape, &qkv, &mut y, &mut probs);
        let x_mid = residual(&x, &y, w.w_proj, n, c)?;
        let h2 = layer_norm(&x_mid, w.ln2_w, w.ln2_b);
        let f = linear(&h2, w.w_fc, n, c, 4 * c)?;
        let mut g = scratch(f.len());
        ops::gelu_rows(&f, &mut g);
        Ok(BlockTape {
            x_in: x,
            h1,
            qkv,
            probs,
            y,
            x_mid,
            h2,
            f,
            g,
        })
    }

    /// Every parameter's gradient of `scale` times the loss, in `Gpt::params` order.
    pub(super) fn backward(mut self, scale: f32) -> Result<Vec<Vec<f32>>> {
        let (n, c) = (self.ids.len(), self.cfg.n_embd);
        let mut grads: Vec<Vec<f32>> = vec![Vec::new(); self.weights.len()];
        let last = grads.len() - 1;
        let mut dlogits = std::mem::take(&mut self.probs);
        ops::cross_entropy_backward(&mut dlogits, &self.targets, scale / n as f32);
        let (lnf_w, _, head) = self.head();
        let (dh, dhead) = linear_backward(&self.h_final, head, &dlogits, n, c, VOCAB)?;
        let mut dx = scratch(n * c);
        let (dlnf_w, dlnf_b) =
            ops::layer_norm_backward(&self.x_final, lnf_w, &dh, LN_EPS, &mut dx, false);
        recycle([dlogits, dh]);
        (grads[last - 2], grads[last - 1], grads[last]) = (dlnf_w, dlnf_b, dhead);
        for l in (0..self.cfg.n_layer).rev() {
            let block_grads = self.block_backward(l, &mut dx)?;
            for (k, g) in block_grads.into_iter().enumerate() {
                grads[2 + l * PER_BLOCK + k] = g;
            }
        }
        let (dwte, dwpe) =
            ops::embed_backward(&self.ids, self.time, &dx, VOCAB, self.cfg.context, c);
        (grads[0], grads[1]) = (dwte, dwpe);
        recycle([dx]);
        Ok(grads)
    }

    /// Turns `dx`, the gradient of block `l`'s output, into that of its input; returns the
    /// block's parameter gradients in `Gpt::params` order.
    fn block_backward(&self, l: usize, dx: &mut [f32]) -> Result<Vec<Vec<f32>>> {
        let (n, c) = (self.ids.len(), self.cfg.n_embd);
        let (w, tape) = (self.block(l), &self.blocks[l]);
        let (dg, dw_out) = linear_backward(&tape.g, w.w_out, dx, n, 4 * c, c)?;
        let mut df = scratch(dg.len());
        ops::gelu_backward(&tape.f, &dg, &mut df);
        let (dh2, dw_fc) = linear_backward(&tape.h2, w.w_fc, &df, n, c, 4 * c)?;
        let (dln2_w, dln2_b) =
            ops::layer_norm_backward(&tape.x_mid, w.ln2_w, &dh2, LN_EPS, dx, true);
        let (dy, dw_proj) = linear_backward(&tape.y, w.w_proj, dx, n, c, c)?;
        let mut dqkv = zeroed(tape.qkv.len());
        let shape = self.attention_shape();
        ops::attention_backward(shape, &tape.qkv, &tape.probs, &dy, &mut dqkv);
        let (dh1, dw_qkv) = linear_backward(&tape.h1, w.w_qkv, &dqkv, n, c, 3 * c)?;
        let (dln1_w, dln1_b) =
            ops::layer_norm_backward(&tape.x_in, w.ln1_w, &dh1, LN_EPS, dx, true);
        recycle([dg, df, dh2, dy, dqkv, dh1]);
        Ok(vec![
            dln1_w, dln1_b, dw_qkv, dw_proj, dln2_w, dln2_b, dw_fc, dw_out,
        ])
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let blocks = std::mem::take(&mut self.blocks);
        recycle(
            blocks
                .into_iter()
                .flat_map(|b| [b.x_in, b.h1, b.qkv, b.probs, b.y, b.x_mid, b.h2, b.f, b.g]),
        );
        recycle([
            std::mem::take(&mut self.x_final),
            std::mem::take(&mut self.h_final),
            std::mem::take(&mut self.probs),
        ]);
    }
}
