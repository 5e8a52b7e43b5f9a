//! Bits-per-byte evaluation of a byte-level language model on a text.
//!
//! Trusted. The model only supplies logits; the log-softmax, the cross-entropy and the
//! averaging happen here. The text is cut into consecutive windows of the model's context
//! length; each byte after the first is predicted exactly once, from the bytes before it in its
//! window.
use candle_core::{DType, Device, Result, Tensor};

/// Vocabulary size of every model in this track: one token per byte.
pub const VOCAB: usize = 256;

/// What evaluation needs from a model.
pub trait LanguageModel {
    /// Longest input the model accepts.
    fn context_len(&self) -> usize;
    /// Logits for u32 token ids of shape (batch, time), shaped (batch, time, 256) or
    /// (batch * time, 256). Position t may only depend on ids at positions <= t.
    fn logits(&self, ids: &Tensor) -> Result<Tensor>;
}

/// Windows evaluated per forward pass.
const EVAL_BATCH: usize = 32;

/// Mean bits per predicted byte of `text` under `model`; NaN if the model produces NaN.
pub fn bits_per_byte(model: &dyn LanguageModel, text: &[u8]) -> Result<f64> {
    let t = model.context_len();
    if t == 0 || text.len() < 2 {
        candle_core::bail!("cannot evaluate: context {t}, text of {} bytes", text.len());
    }
    // Window i covers inputs text[i*t .. i*t+t] and targets one byte later.
    let n_windows = (text.len() - 1) / t;
    let mut windows: Vec<(usize, usize)> = (0..n_windows).map(|i| (i * t, t)).collect();
    let covered = n_windows * t;
    if covered < text.len() - 1 {
        windows.push((covered, text.len() - 1 - covered));
    }
    let mut total_bits = 0.0f64;
    let mut count = 0usize;
    let mut i = 0;
    while i < windows.len() {
        let len = windows[i].1;
        let mut j = i;
        while j < windows.len() && j - i < EVAL_BATCH && windows[j].1 == len {
            j += 1;
        }
        let batch = &windows[i..j];
        let ids: Vec<u32> = batch
            .iter()
            .flat_map(|&(s, l)| text[s..s + l].iter().map(|&b| b as u32))
            .collect();
        let ids = Tensor::from_vec(ids, (batch.len(), len), &Device::Cpu)?;
        let logits = model.logits(&ids)?.to_dtype(DType::F32)?;
        let logits = logits
            .reshape((batch.len() * len, VOCAB))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (w, &(s, l)) in batch.iter().enumerate() {
            for p in 0..l {
                let row = &logits[(w * l + p) * VOCAB..(w * l + p + 1) * VOCAB];
                let target = text[s + p + 1] as usize;
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
                let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
                let log_p = row[target] as f64 - max - sum.ln();
                total_bits -= log_p / std::f64::consts::LN_2;
                count += 1;
            }
        }
        i = j;
    }
    Ok(total_bits / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that knows the byte frequencies and nothing else.
    struct Unigram(Vec<f32>, usize);

    impl LanguageModel for Unigram {
        fn context_len(&self) -> usize {
            self.1
        }
        fn logits(&self, ids: &Tensor) -> Result<Tensor> {
            let (b, t) = ids.dims2()?;
            let row = Tensor::from_vec(self.0.clone(), (1, 1, VOCAB), &Device::Cpu)?;
            row.broadcast_as((b, t, VOCAB))?.contiguous()
        }
    }

    #[test]
    fn unigram_model_scores_the_unigram_entropy() {
        let text: Vec<u8> = (0..5000u32).map(|i| b"aab"[(i % 3) as usize]).collect();
        let mut logits = vec![-1e9f32; VOCAB];
        logits[b'a' as usize] = (2.0f32 / 3.0).ln();
        logits[b'b' as usize] = (1.0f32 / 3.0).ln();
        let bpb = bits_per_byte(&Unigram(logits, 7), &text).unwrap();
        let h = -(2.0 / 3.0) * (2.0f64 / 3.0).log2() - (1.0 / 3.0) * (1.0f64 / 3.0).log2();
        assert!((bpb - h).abs() < 1e-3, "{bpb} vs {h}");
    }
}
