//! The model: a GPT-2 style decoder over bytes (vocabulary 256).
//!
//! Editable. Pre-norm transformer blocks (layer norm, causal multi-head self-attention, layer
//! norm, GELU MLP) on a residual stream of width `n_embd`, learned position embeddings, an
//! untied output head, no biases in the linear layers. Activations are kept as 2-D
//! (batch*time, width) matrices so every linear layer is one plain matmul. Weights are
//! initialised from the track's seeded RNG (candle's CPU device cannot be seeded).
//! `forward` (for evaluation) runs through candle's graph of the ops in `ops.rs`; `loss` (for
//! training) runs the same network through `model/pass.rs`, which must be kept in step.
//!
//! `main.rs` and `eval.rs` rely on: `Gpt::new`, `Gpt::save`, `Gpt::load_weights`,
//! `Gpt::num_params` and the `LanguageModel` implementation.
use std::collections::HashMap;
use std::path::Path;

use candle_core::{bail, Device, Result, Tensor, Var};

use crate::eval::{LanguageModel, VOCAB};
use crate::ops;
use crate::rng::Rng;

mod pass;
use pass::Pass;

/// Shape of the network.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub context: usize,
}

struct Block {
    ln1_w: Var,
    ln1_b: Var,
    w_qkv: Var,
    w_proj: Var,
    ln2_w: Var,
    ln2_b: Var,
    w_fc: Var,
    w_out: Var,
}

/// The network and its named parameters.
pub struct Gpt {
    cfg: Config,
    wte: Var,
    wpe: Var,
    blocks: Vec<Block>,
    lnf_w: Var,
    lnf_b: Var,
    w_head: Var,
    /// Every parameter with its checkpoint name, in a fixed order.
    params: Vec<(String, Var)>,
}

/// Builds parameters in a fixed order and records their names.
struct Init<'a> {
    rng: &'a mut Rng,
    params: Vec<(String, Var)>,
}

impl Init<'_> {
    fn var(&mut self, name: String, data: Vec<f32>, shape: &[usize]) -> Result<Var> {
        let v = Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?)?;
        self.params.push((name, v.clone()));
        Ok(v)
    }

    fn normal(&mut self, name: String, shape: &[usize], std: f64) -> Result<Var> {
        let n = shape.iter().product();
        let data = (0..n).map(|_| (self.rng.normal() * std) as f32).collect();
        self.var(name, data, shape)
    }

    fn constant(&mut self, name: String, shape: &[usize], value: f32) -> Result<Var> {
        self.var(name, vec![value; shape.iter().product()], shape)
    }
}

impl Gpt {
    /// A freshly initialised model.
    pub fn new(cfg: Config, rng: &mut Rng) -> Result<Self> {
        let c = cfg.n_embd;
        if cfg.n_head == 0 || !c.is_multiple_of(cfg.n_head) {
            bail!("n_embd {c} is not divisible by n_head {}", cfg.n_head);
        }
        let std = 0.02;
        // GPT-2: scale the projections into the residual stream by depth.
        let proj_std = std / (2.0 * cfg.n_layer as f64).sqrt();
        let mut init = Init {
            rng,
            params: Vec::new(),
        };
        let wte = init.normal("wte".into(), &[VOCAB, c], std)?;
        let wpe = init.normal("wpe".into(), &[cfg.context, c], std)?;
        let mut blocks = Vec::new();
        for l in 0..cfg.n_layer {
            blocks.push(Block {
                ln1_w: init.constant(format!("h{l}.ln1.w"), &[c], 1.0)?,
                ln1_b: init.constant(format!("h{l}.ln1.b"), &[c], 0.0)?,
                w_qkv: init.normal(format!("h{l}.attn.qkv"), &[c, 3 * c], std)?,
                w_proj: init.normal(format!("h{l}.attn.proj"), &[c, c], proj_std)?,
                ln2_w: init.constant(format!("h{l}.ln2.w"), &[c], 1.0)?,
                ln2_b: init.constant(format!("h{l}.ln2.b"), &[c], 0.0)?,
                w_fc: init.normal(format!("h{l}.mlp.fc"), &[c, 4 * c], std)?,
                w_out: init.normal(format!("h{l}.mlp.out"), &[4 * c, c], proj_std)?,
            });
        }
        let lnf_w = init.constant("lnf.w".into(), &[c], 1.0)?;
        let lnf_b = init.constant("lnf.b".into(), &[c], 0.0)?;
        let w_head = init.normal("head".into(), &[c, VOCAB], std)?;
        Ok(Gpt {
            cfg,
            wte,
            wpe,
            blocks,
            lnf_w,
            lnf_b,
            w_head,
            params: init.params,
        })
    }

    pub fn config(&self) -> Config {
        self.cfg
    }

    /// Parameters with their names, in a fixed order (for the optimizer and checkpoints).
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    pub fn num_params(&self) -> usize {
        self.params.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Logits (B*T, 256) for ids (B, T).
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if t > self.cfg.context {
            bail!(
                "input of {t} positions exceeds the context of {}",
                self.cfg.context
            );
        }
        let mut x = ops::embed(ids, &self.wte, &self.wpe)?;
        for blk in &self.blocks {
            let h = ops::layer_norm(&x, &blk.ln1_w, &blk.ln1_b)?;
            let qkv = h.matmul(&blk.w_qkv)?;
            let a = ops::causal_attention(&qkv, b, t, self.cfg.n_head)?;
            x = (x + a.matmul(&blk.w_proj)?)?;
            let h = ops::layer_norm(&x, &blk.ln2_w, &blk.ln2_b)?;
            let m = ops::gelu(&h.matmul(&blk.w_fc)?)?;
            x = (x + m.matmul(&blk.w_out)?)?;
        }
        let h = ops::layer_norm(&x, &self.lnf_w, &self.lnf_b)?;
        h.matmul(&self.w_head)
    }

    /// Mean cross-entropy (nats) of predicting `targets` (B, T) from `ids` (B, T), computed
    /// by the fused training pass (`model/pass.rs`); its `backward()` gives every parameter its
    /// gradient.
    pub fn loss(&self, ids: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if targets.dims2()? != (b, t) {
            bail!("targets {:?} do not match ids ({b}, {t})", targets.dims());
        }
        if t > self.cfg.context {
            bail!(
                "input of {t} positions exceeds the context of {}",
                self.cfg.context
            );
        }
        let params: Vec<Tensor> = self
            .params
            .iter()
            .map(|(_, v)| v.as_tensor().clone())
            .collect();
        let weights = params
            .iter()
            .map(|p| p.flatten_all()?.to_vec1::<f32>())
            .collect::<Result<Vec<_>>>()?;
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let targets = targets.flatten_all()?.to_vec1::<u32>()?;
        let pass = Pass::forward(self.cfg, weights, ids, targets, t)?;
        let value = pass.loss as f32;
        let shapes: Vec<Vec<usize>> = params.iter().map(|p| p.dims().to_vec()).collect();
        ops::routed_loss(
            value,
            &params,
            Box::new(move |g| {
                pass.backward(g)?
                    .into_iter()
                    .zip(&shapes)
                    .map(|(d, shape)| Tensor::from_vec(d, shape.as_slice(), &Device::Cpu))
                    .collect()
            }),
        )
    }

    /// The reference loss through candle's graph of the separate fused ops, which the
    /// training pass must match.
    #[cfg(test)]
    pub fn reference_loss(&self, ids: &Tensor, targets: &Tensor) -> Result<Tensor> {
        ops::cross_entropy(&self.forward(ids)?, &targets.flatten_all()?)
    }

    /// Writes all parameters to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> = self
            .params
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        candle_core::safetensors::save(&tensors, path)
    }

    /// Replaces all parameters by those in a safetensors file written by [`Gpt::save`].
    pub fn load_weights(&self, path: &Path) -> Result<()> {
        let mut tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
        for (name, var) in &self.params {
            let t = tensors.remove(name).ok_or_else(|| {
                candle_core::Error::Msg(format!("checkpoint lacks tensor `{name}`"))
            })?;
            if t.dims() != var.dims() {
                bail!(
                    "checkpoint tensor `{name}` has shape {:?}, model wants {:?}",
                    t.dims(),
                    var.dims()
                );
            }
            var.set(&t)?;
        }
        if let Some(extra) = tensors.keys().next() {
            bail!("checkpoint has unexpected tensor `{extra}` (different model?)");
        }
        Ok(())
    }
}

impl LanguageModel for Gpt {
    fn context_len(&self) -> usize {
        self.cfg.context
    }

    fn logits(&self, ids: &Tensor) -> Result<Tensor> {
        self.forward(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loss and every parameter's gradient of `loss_fn`, in `Gpt::params` order.
    fn loss_and_grads(
        model: &Gpt,
        loss_fn: impl Fn(&Gpt) -> Result<Tensor>,
    ) -> (f32, Vec<Vec<f32>>) {
        let loss = loss_fn(model).unwrap();
        let grads = loss.backward().unwrap();
        let flat = model
            .params()
            .iter()
            .map(|(name, v)| {
                let g = grads
                    .get(v.as_tensor())
                    .unwrap_or_else(|| panic!("no gradient for {name}"));
                assert_eq!(g.dims(), v.dims(), "gradient of {name} has the wrong shape");
                g.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            })
            .collect();
        (loss.to_scalar::<f32>().unwrap(), flat)
    }

    #[test]
    fn training_pass_matches_autograd_over_the_separate_ops() {
        let cfg = Config {
            n_embd: 16,
            n_layer: 2,
            n_head: 2,
            context: 8,
        };
        let mut rng = Rng::new(11);
        let model = Gpt::new(cfg, &mut rng).unwrap();
        // Move the layer norms off their identity initialisation so their gradients matter.
        for (name, v) in model.params() {
            if name.contains("ln") {
                let data: Vec<f32> = (0..v.elem_count())
                    .map(|_| 1.0 + 0.3 * rng.normal() as f32)
                    .collect();
                v.set(&Tensor::from_vec(data, v.dims(), &Device::Cpu).unwrap())
                    .unwrap();
            }
        }
        // Fewer positions than the context, as a short batch would have.
        let (b, t) = (3, 6);
        let ids: Vec<u32> = (0..b * t).map(|_| rng.below(VOCAB) as u32).collect();
        let targets: Vec<u32> = (0..b * t).map(|_| rng.below(VOCAB) as u32).collect();
        let ids = Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap();
        let targets = Tensor::from_vec(targets, (b, t), &Device::Cpu).unwrap();
        let (fused, fused_grads) = loss_and_grads(&model, |m| m.loss(&ids, &targets));
        let (reference, reference_grads) =
            loss_and_grads(&model, |m| m.reference_loss(&ids, &targets));
        assert!(
            (fused - reference).abs() < 1e-5,
            "loss {fused} vs {reference}"
        );
        for ((name, _), (a, b)) in model
            .params()
            .iter()
            .zip(fused_grads.iter().zip(&reference_grads))
        {
            let scale = b.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(scale > 0.0, "{name} has a zero gradient");
            let diff = a
                .iter()
                .zip(b)
                .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(
                diff <= 1e-4 * scale,
                "{name}: gradients differ by {diff} (largest {scale})"
            );
        }
    }

    #[test]
    fn training_pass_rejects_mismatched_targets_and_long_inputs() {
        let cfg = Config {
            n_embd: 8,
            n_layer: 1,
            n_head: 2,
            context: 4,
        };
        let model = Gpt::new(cfg, &mut Rng::new(1)).unwrap();
        let ids = Tensor::zeros((2, 4), candle_core::DType::U32, &Device::Cpu).unwrap();
        let short = Tensor::zeros((2, 3), candle_core::DType::U32, &Device::Cpu).unwrap();
        assert!(model.loss(&ids, &short).is_err());
        let long = Tensor::zeros((1, 5), candle_core::DType::U32, &Device::Cpu).unwrap();
        assert!(model.loss(&long, &long).is_err());
        let bad = Tensor::full(300u32, (2, 4), &Device::Cpu).unwrap();
        assert!(model.loss(&ids, &bad).is_err());
        assert!(model.loss(&bad, &ids).is_err(), "token ids out of range");
    }
}
