//! Hyperparameters, optimizer (AdamW), learning-rate schedule and the training loop.
//!
//! Editable. `main.rs` relies on `train`, `load` and `Trained`; the training loop must ask
//! `budget.done` before every step and stop when it says so.
use std::path::Path;
use std::sync::Mutex;

use candle_core::{bail, CpuStorage, Device, InplaceOp2, Layout, Result, Tensor, Var};

use crate::budget::Budget;
use crate::model::{Config, Gpt};
use crate::rng::Rng;

// Model shape.
pub const N_EMBD: usize = 128;
pub const N_LAYER: usize = 1;
pub const N_HEAD: usize = 4;
pub const CONTEXT: usize = 64;

// Optimisation.
pub const BATCH_SIZE: usize = 16;
pub const LR: f64 = 0.006;
pub const WARMUP_STEPS: usize = 50;
/// Fraction of the budget, at the end, over which the learning rate decays linearly.
pub const WARMDOWN_FRACTION: f64 = 0.5;
/// Learning rate at the very end, as a fraction of `LR`.
pub const FINAL_LR_FRACTION: f64 = 0.05;
pub const WEIGHT_DECAY: f64 = 0.1;
pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.95;
pub const ADAM_EPS: f64 = 1e-8;
pub const GRAD_CLIP: f64 = 1.0;

/// Progress lines are printed this often.
const LOG_EVERY: usize = 100;

pub fn config() -> Config {
    Config {
        n_embd: N_EMBD,
        n_layer: N_LAYER,
        n_head: N_HEAD,
        context: CONTEXT,
    }
}

/// Learning rate after `step` steps with `progress` of the budget used.
fn learning_rate(step: usize, progress: f64) -> f64 {
    let warmup = if WARMUP_STEPS == 0 {
        1.0
    } else {
        ((step + 1) as f64 / WARMUP_STEPS as f64).min(1.0)
    };
    let decay_start = 1.0 - WARMDOWN_FRACTION;
    let decay = if progress <= decay_start {
        1.0
    } else {
        let f = (progress - decay_start) / WARMDOWN_FRACTION;
        1.0 - f * (1.0 - FINAL_LR_FRACTION)
    };
    LR * warmup * decay
}

/// One AdamW update of one parameter, in place, fused into a single pass.
struct AdamStep<'a> {
    state: &'a Mutex<(Vec<f32>, Vec<f32>)>,
    lr: f32,
    weight_decay: f32,
    bias1: f32,
    bias2: f32,
    grad_scale: f32,
}

impl InplaceOp2 for AdamStep<'_> {
    fn name(&self) -> &'static str {
        "adamw-step"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (s1, s2) else {
            bail!("adamw: f32 parameters only");
        };
        let (Some((p0, p1)), Some((g0, g1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            bail!("adamw: contiguous tensors only");
        };
        let mut state = self
            .state
            .lock()
            .expect("optimizer state is never poisoned");
        let (m, v) = &mut *state;
        let (b1, b2) = (BETA1 as f32, BETA2 as f32);
        let eps = ADAM_EPS as f32;
        let decay = 1.0 - self.lr * self.weight_decay;
        for (((p, &g), m), v) in p[p0..p1]
            .iter_mut()
            .zip(&g[g0..g1])
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            let g = g * self.grad_scale;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let update = (*m / self.bias1) / ((*v / self.bias2).sqrt() + eps);
            *p = *p * decay - self.lr * update;
        }
        Ok(())
    }
}

/// A parameter, whether it is weight-decayed, and its Adam moments (m, v).
type ParamState = (Var, bool, Mutex<(Vec<f32>, Vec<f32>)>);

/// AdamW with decoupled weight decay on matrices only and global-norm gradient clipping.
struct AdamW {
    params: Vec<ParamState>,
    t: i32,
}

impl AdamW {
    fn new(model: &Gpt) -> Self {
        let params = model
            .params()
            .iter()
            .map(|(_, v)| {
                let n = v.elem_count();
                (
                    v.clone(),
                    v.rank() >= 2,
                    Mutex::new((vec![0.0; n], vec![0.0; n])),
                )
            })
            .collect();
        AdamW { params, t: 0 }
    }

    fn step(&mut self, loss: &Tensor, lr: f64) -> Result<()> {
        let grads = loss.backward()?;
        let mut grad_list = Vec::with_capacity(self.params.len());
        let mut sq = 0.0f64;
        for (var, _, _) in &self.params {
            let g = grads.get(var.as_tensor()).ok_or_else(|| {
                candle_core::Error::Msg("a parameter received no gradient".into())
            })?;
            let g = g.contiguous()?;
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            grad_list.push(g);
        }
        let norm = sq.sqrt();
        let grad_scale = if norm > GRAD_CLIP {
            (GRAD_CLIP / norm) as f32
        } else {
            1.0
        };
        self.t += 1;
        for ((var, decays, state), g) in self.params.iter().zip(&grad_list) {
            let op = AdamStep {
                state,
                lr: lr as f32,
                weight_decay: if *decays { WEIGHT_DECAY as f32 } else { 0.0 },
                bias1: 1.0 - (BETA1 as f32).powi(self.t),
                bias2: 1.0 - (BETA2 as f32).powi(self.t),
                grad_scale,
            };
            var.as_tensor().inplace_op2(g, &op)?;
        }
        Ok(())
    }
}

/// A random batch of (inputs, targets), each (BATCH_SIZE, CONTEXT) u32.
fn batch(text: &[u8], rng: &mut Rng) -> Result<(Tensor, Tensor)> {
    if text.len() <= CONTEXT + 1 {
        bail!(
            "training text of {} bytes is shorter than the context",
            text.len()
        );
    }
    let mut x = Vec::with_capacity(BATCH_SIZE * CONTEXT);
    let mut y = Vec::with_capacity(BATCH_SIZE * CONTEXT);
    for _ in 0..BATCH_SIZE {
        let start = rng.below(text.len() - CONTEXT - 1);
        x.extend(text[start..start + CONTEXT].iter().map(|&b| b as u32));
        y.extend(
            text[start + 1..start + CONTEXT + 1]
                .iter()
                .map(|&b| b as u32),
        );
    }
    let dev = &Device::Cpu;
    Ok((
        Tensor::from_vec(x, (BATCH_SIZE, CONTEXT), dev)?,
        Tensor::from_vec(y, (BATCH_SIZE, CONTEXT), dev)?,
    ))
}

/// The outcome of training.
pub struct Trained {
    pub model: Gpt,
    pub steps: usize,
    pub tokens: usize,
    /// The loss became NaN or infinite; training stopped early.
    pub diverged: bool,
}

/// Trains a fresh model on `text` until the budget is spent.
pub fn train(text: &[u8], budget: &Budget, seed: u64) -> Result<Trained> {
    let root = Rng::new(seed);
    let model = Gpt::new(config(), &mut root.fork(1))?;
    let mut data_rng = root.fork(2);
    let mut opt = AdamW::new(&model);
    println!(
        "model: {:.3}M parameters, {:?}",
        model.num_params() as f64 / 1e6,
        model.config()
    );
    let (mut steps, mut tokens) = (0, 0);
    let mut smoothed = f64::NAN;
    while !budget.done(steps, tokens) {
        let lr = learning_rate(steps, budget.progress(steps, tokens));
        let (x, y) = batch(text, &mut data_rng)?;
        let loss = model.loss(&x, &y)?;
        let value = loss.to_scalar::<f32>()? as f64;
        if !value.is_finite() {
            println!("step {steps}: loss is {value}, stopping");
            return Ok(Trained {
                model,
                steps,
                tokens,
                diverged: true,
            });
        }
        opt.step(&loss, lr)?;
        steps += 1;
        tokens += BATCH_SIZE * CONTEXT;
        smoothed = if smoothed.is_nan() {
            value
        } else {
            0.95 * smoothed + 0.05 * value
        };
        if steps % LOG_EVERY == 0 {
            println!(
                "step {steps:5} | loss {:.4} ({:.3} bpb) | lr {lr:.2e} | {:.1}s",
                smoothed,
                smoothed / std::f64::consts::LN_2,
                budget.elapsed()
            );
        }
    }
    Ok(Trained {
        model,
        steps,
        tokens,
        diverged: false,
    })
}

/// A model with the weights of a checkpoint written after `train`.
pub fn load(path: &Path) -> Result<Gpt> {
    let model = Gpt::new(config(), &mut Rng::new(0))?;
    model.load_weights(path)?;
    Ok(model)
}
