//! Hyperparameters, optimizer (AdamW), learning-rate schedule and the training loop.
//!
//! Editable. `main.rs` relies on `train`, `load`, `Trained` and `use_knobs_from_env`; the
//! training loop must ask `budget.done` before every step and stop when it says so.
//!
//! The code reads the constants below through [`knobs`]. They are the values a run uses,
//! unless `TINYGPT_KNOBS_FROM` names a copy of this file: then the `pub const` lines of that
//! copy apply instead. That is the road of swarmlab's efficacy bench alone, which builds the
//! track once and runs a hundred configurations; a run gives exactly the same result whether
//! a value is compiled in or read from the copy. Nothing else sets the variable.
use std::path::Path;
use std::sync::{Mutex, OnceLock};

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

/// The variable that names a copy of this file whose constants replace the compiled ones.
pub const KNOBS_FROM_VAR: &str = "TINYGPT_KNOBS_FROM";

/// The values of the `pub const`s above, as one run uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub context: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub warmup_steps: usize,
    pub warmdown_fraction: f64,
    pub final_lr_fraction: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub adam_eps: f64,
    pub grad_clip: f64,
}

impl Knobs {
    /// The constants compiled in.
    pub const COMPILED: Knobs = Knobs {
        n_embd: N_EMBD,
        n_layer: N_LAYER,
        n_head: N_HEAD,
        context: CONTEXT,
        batch_size: BATCH_SIZE,
        lr: LR,
        warmup_steps: WARMUP_STEPS,
        warmdown_fraction: WARMDOWN_FRACTION,
        final_lr_fraction: FINAL_LR_FRACTION,
        weight_decay: WEIGHT_DECAY,
        beta1: BETA1,
        beta2: BETA2,
        adam_eps: ADAM_EPS,
        grad_clip: GRAD_CLIP,
    };

    /// The values of the `pub const NAME: TYPE = VALUE;` lines of `source` (a copy of this
    /// file). Every constant must be there, once, with a value of its type.
    pub fn from_source(source: &str) -> std::result::Result<Knobs, String> {
        let mut values = std::collections::HashMap::new();
        for line in source.lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let (Some((name, _)), Some((_, value))) = (rest.split_once(':'), rest.split_once('='))
            else {
                continue;
            };
            let value = value.trim().trim_end_matches(';').trim();
            if values.insert(name.trim(), value).is_some() {
                return Err(format!("constant {} is declared twice", name.trim()));
            }
        }
        let text = |name: &str| {
            values
                .get(name)
                .copied()
                .ok_or_else(|| format!("constant {name} is missing"))
        };
        let int = |name: &str| -> std::result::Result<usize, String> {
            let v = text(name)?;
            v.parse()
                .map_err(|_| format!("constant {name} = {v} is not a whole number"))
        };
        let real = |name: &str| -> std::result::Result<f64, String> {
            let v = text(name)?;
            v.parse()
                .map_err(|_| format!("constant {name} = {v} is not a number"))
        };
        Ok(Knobs {
            n_embd: int("N_EMBD")?,
            n_layer: int("N_LAYER")?,
            n_head: int("N_HEAD")?,
            context: int("CONTEXT")?,
            batch_size: int("BATCH_SIZE")?,
            lr: real("LR")?,
            warmup_steps: int("WARMUP_STEPS")?,
            warmdown_fraction: real("WARMDOWN_FRACTION")?,
            final_lr_fraction: real("FINAL_LR_FRACTION")?,
            weight_decay: real("WEIGHT_DECAY")?,
            beta1: real("BETA1")?,
            beta2: real("BETA2")?,
            adam_eps: real("ADAM_EPS")?,
            grad_clip: real("GRAD_CLIP")?,
        })
    }
}

static KNOBS: OnceLock<Knobs> = OnceLock::new();

/// The values this run uses: the compiled constants unless [`use_knobs_from_env`] read others.
pub fn knobs() -> &'static Knobs {
    KNOBS.get_or_init(|| Knobs::COMPILED)
}

/// Reads the copy that `TINYGPT_KNOBS_FROM` names, if it is set; called once, first thing.
pub fn use_knobs_from_env() -> std::result::Result<(), String> {
    let Some(path) = std::env::var_os(KNOBS_FROM_VAR).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = std::path::PathBuf::from(path);
    let source = std::fs::read_to_string(&path)
        .map_err(|e| format!("failed to read {KNOBS_FROM_VAR}={}: {e}", path.display()))?;
    let knobs = Knobs::from_source(&source)
        .map_err(|e| format!("in {KNOBS_FROM_VAR}={}: {e}", path.display()))?;
    KNOBS
        .set(knobs)
        .map_err(|_| "the knobs were read before the override".to_string())
}

pub fn config() -> Config {
    let k = knobs();
    Config {
        n_embd: k.n_embd,
        n_layer: k.n_layer,
        n_head: k.n_head,
        context: k.context,
    }
}

/// Learning rate after `step` steps with `progress` of the budget used.
fn learning_rate(step: usize, progress: f64) -> f64 {
    let k = knobs();
    let warmup = if k.warmup_steps == 0 {
        1.0
    } else {
        ((step + 1) as f64 / k.warmup_steps as f64).min(1.0)
    };
    let decay_start = 1.0 - k.warmdown_fraction;
    let decay = if progress <= decay_start {
        1.0
    } else {
        let f = (progress - decay_start) / k.warmdown_fraction;
        1.0 - f * (1.0 - k.final_lr_fraction)
    };
    k.lr * warmup * decay
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
        let k = knobs();
        let (b1, b2) = (k.beta1 as f32, k.beta2 as f32);
        let eps = k.adam_eps as f32;
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
        let k = knobs();
        let grad_scale = if norm > k.grad_clip {
            (k.grad_clip / norm) as f32
        } else {
            1.0
        };
        self.t += 1;
        for ((var, decays, state), g) in self.params.iter().zip(&grad_list) {
            let op = AdamStep {
                state,
                lr: lr as f32,
                weight_decay: if *decays { k.weight_decay as f32 } else { 0.0 },
                bias1: 1.0 - (k.beta1 as f32).powi(self.t),
                bias2: 1.0 - (k.beta2 as f32).powi(self.t),
                grad_scale,
            };
            var.as_tensor().inplace_op2(g, &op)?;
        }
        Ok(())
    }
}

/// A random batch of (inputs, targets), each (BATCH_SIZE, CONTEXT) u32.
fn batch(text: &[u8], rng: &mut Rng) -> Result<(Tensor, Tensor)> {
    let (batch_size, context) = (knobs().batch_size, knobs().context);
    if text.len() <= context + 1 {
        bail!(
            "training text of {} bytes is shorter than the context",
            text.len()
        );
    }
    let mut x = Vec::with_capacity(batch_size * context);
    let mut y = Vec::with_capacity(batch_size * context);
    for _ in 0..batch_size {
        let start = rng.below(text.len() - context - 1);
        x.extend(text[start..start + context].iter().map(|&b| b as u32));
        y.extend(
            text[start + 1..start + context + 1]
                .iter()
                .map(|&b| b as u32),
        );
    }
    let dev = &Device::Cpu;
    Ok((
        Tensor::from_vec(x, (batch_size, context), dev)?,
        Tensor::from_vec(y, (batch_size, context), dev)?,
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
        tokens += knobs().batch_size * knobs().context;
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

#[cfg(test)]
mod tests {
    use super::Knobs;

    const SOURCE: &str = include_str!("train.rs");

    #[test]
    fn this_file_reads_back_as_the_compiled_constants() {
        assert_eq!(Knobs::from_source(SOURCE), Ok(Knobs::COMPILED));
    }

    /// A `pub const` line, written so that the track's knob patterns never match this file's
    /// tests.
    fn line(name: &str, value: &str) -> String {
        let ty = if name == "LR" { "f64" } else { "usize" };
        format!("{} {name}: {ty} = {value};", "pub const")
    }

    #[test]
    fn an_edited_copy_gives_the_edited_values() {
        let edited = SOURCE
            .replace(&line("LR", "0.006"), &line("LR", "0.0123"))
            .replace(&line("N_LAYER", "1"), &line("N_LAYER", "3"));
        let knobs = Knobs::from_source(&edited).unwrap();
        assert_eq!((knobs.lr, knobs.n_layer), (0.0123, 3));
        assert_eq!(knobs.n_embd, Knobs::COMPILED.n_embd);
    }

    #[test]
    fn a_missing_a_duplicate_or_a_bad_constant_is_an_error() {
        let missing = SOURCE.replace("pub const BETA2", "const BETA2");
        assert_eq!(
            Knobs::from_source(&missing),
            Err("constant BETA2 is missing".to_string())
        );
        let twice = format!("{SOURCE}\n{}\n", line("LR", "0.1"));
        assert_eq!(
            Knobs::from_source(&twice),
            Err("constant LR is declared twice".to_string())
        );
        let bad = SOURCE.replace("N_EMBD: usize = 128", "N_EMBD: usize = 12.5");
        assert_eq!(
            Knobs::from_source(&bad),
            Err("constant N_EMBD = 12.5 is not a whole number".to_string())
        );
    }
}
