//! `tinygpt serve-logits`: answers a verifier's windows of bytes with the model's logits, in
//! swarmlab's logits protocol (docs/eval.md in swarmlab), so that the verifier computes the
//! metric itself.
//!
//! Trusted. Little-endian throughout: first the handshake (`SWLOGITS`, u32 version 1, u32
//! vocab 256); then for each request (u32 rows, u32 len, rows*len u32 tokens) a response (u32
//! rows, u32 len, rows*len*256 f32 logits, row-major). A window longer than the model's
//! context is cut into consecutive pieces of at most that length, each evaluated on its own,
//! as `eval.rs` cuts the validation text. EOF on stdin ends the session.
use std::io::{self, Read, Write};

use candle_core::{DType, Device, Tensor};

use crate::eval::{LanguageModel, VOCAB};

const MAGIC: &[u8; 8] = b"SWLOGITS";
const VERSION: u32 = 1;
/// The longest window a request may hold: far above any context the track allows.
const MAX_LEN: usize = 1 << 16;
/// The most rows a request may hold.
const MAX_ROWS: usize = 1 << 12;

/// Serves `model` until `input` ends.
pub fn serve(
    model: &dyn LanguageModel,
    input: impl Read,
    output: impl Write,
) -> Result<(), String> {
    let (mut input, mut output) = (io::BufReader::new(input), io::BufWriter::new(output));
    let write_error = |e: io::Error| format!("failed to write logits: {e}");
    output.write_all(MAGIC).map_err(write_error)?;
    output
        .write_all(&VERSION.to_le_bytes())
        .map_err(write_error)?;
    output
        .write_all(&(VOCAB as u32).to_le_bytes())
        .map_err(write_error)?;
    output.flush().map_err(write_error)?;
    while let Some((rows, len)) = read_header(&mut input)? {
        let mut bytes = vec![0u8; rows * len * 4];
        input
            .read_exact(&mut bytes)
            .map_err(|e| format!("failed to read {rows} rows of {len} tokens: {e}"))?;
        let tokens: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(t) = tokens.iter().find(|&&t| t as usize >= VOCAB) {
            return Err(format!("token {t} is outside the vocabulary of {VOCAB}"));
        }
        let logits = window_logits(model, &tokens, rows, len)
            .map_err(|e| format!("forward pass failed: {e}"))?;
        output
            .write_all(&(rows as u32).to_le_bytes())
            .map_err(write_error)?;
        output
            .write_all(&(len as u32).to_le_bytes())
            .map_err(write_error)?;
        let body: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
        output.write_all(&body).map_err(write_error)?;
        output.flush().map_err(write_error)?;
    }
    Ok(())
}

/// The next request's (rows, len), or `None` at a clean end of input.
fn read_header(input: &mut impl Read) -> Result<Option<(usize, usize)>, String> {
    let mut header = [0u8; 8];
    let mut got = 0;
    while got < header.len() {
        match input.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err("the input ended inside a request header".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("failed to read a request: {e}")),
        }
    }
    let rows = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if rows == 0 || len == 0 || rows > MAX_ROWS || len > MAX_LEN {
        return Err(format!(
            "a request of {rows} rows of {len} tokens is out of range"
        ));
    }
    Ok(Some((rows, len)))
}

/// Logits (rows, len, VOCAB) flattened, for `rows` windows of `len` tokens.
fn window_logits(
    model: &dyn LanguageModel,
    tokens: &[u32],
    rows: usize,
    len: usize,
) -> candle_core::Result<Vec<f32>> {
    let context = model.context_len().max(1);
    let mut out = vec![0.0f32; rows * len * VOCAB];
    for start in (0..len).step_by(context) {
        let n = context.min(len - start);
        let ids: Vec<u32> = (0..rows)
            .flat_map(|r| tokens[r * len + start..r * len + start + n].iter().copied())
            .collect();
        let ids = Tensor::from_vec(ids, (rows, n), &Device::Cpu)?;
        let logits = model
            .logits(&ids)?
            .to_dtype(DType::F32)?
            .reshape((rows * n, VOCAB))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for r in 0..rows {
            let from = &logits[r * n * VOCAB..(r + 1) * n * VOCAB];
            let to = (r * len + start) * VOCAB;
            out[to..to + n * VOCAB].copy_from_slice(from);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Result;

    /// Logit `t` of position p is the number of tokens equal to `t` up to p: causal, and its
    /// answer shows which positions it saw.
    struct Counter(usize);

    impl LanguageModel for Counter {
        fn context_len(&self) -> usize {
            self.0
        }
        fn logits(&self, ids: &Tensor) -> Result<Tensor> {
            let (b, t) = ids.dims2()?;
            let ids = ids.to_vec2::<u32>()?;
            let mut out = vec![0.0f32; b * t * VOCAB];
            for (r, row) in ids.iter().enumerate() {
                for p in 0..t {
                    for &id in &row[..=p] {
                        out[(r * t + p) * VOCAB + id as usize] += 1.0;
                    }
                }
            }
            Tensor::from_vec(out, (b, t, VOCAB), &Device::Cpu)
        }
    }

    fn request(rows: &[&[u32]]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        out.extend_from_slice(&(rows[0].len() as u32).to_le_bytes());
        for row in rows {
            for t in *row {
                out.extend_from_slice(&t.to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn answers_each_request_with_logits_of_pieces_no_longer_than_the_context() {
        let mut input = request(&[&[1, 1, 2, 1, 1], &[3, 3, 3, 3, 3]]);
        input.extend(request(&[&[7]]));
        let mut output = Vec::new();
        serve(&Counter(2), &input[..], &mut output).unwrap();
        assert_eq!(&output[..8], b"SWLOGITS");
        assert_eq!(&output[8..16], &[1, 0, 0, 0, 0, 1, 0, 0]);
        let body = &output[16..];
        assert_eq!(&body[..8], &[2, 0, 0, 0, 5, 0, 0, 0]);
        let logits: Vec<f32> = body[8..8 + 2 * 5 * VOCAB * 4]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let at = |r: usize, p: usize, t: usize| logits[(r * 5 + p) * VOCAB + t];
        // Pieces [0, 2), [2, 4), [4, 5): position 3 of row 0 saw tokens 2 and 1 only.
        assert_eq!(
            (at(0, 1, 1), at(0, 3, 1), at(0, 3, 2), at(0, 4, 1)),
            (2.0, 1.0, 1.0, 1.0)
        );
        assert_eq!(at(1, 3, 3), 2.0);
        let second = &body[8 + 2 * 5 * VOCAB * 4..];
        assert_eq!(&second[..8], &[1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(second.len(), 8 + VOCAB * 4);
    }

    #[test]
    fn refuses_tokens_outside_the_vocabulary_and_torn_requests() {
        let mut output = Vec::new();
        let err = serve(&Counter(4), &request(&[&[300]])[..], &mut output).unwrap_err();
        assert!(err.contains("token 300 is outside"), "{err}");
        let err = serve(&Counter(4), &[1u8, 0, 0][..], &mut Vec::new()).unwrap_err();
        assert!(err.contains("inside a request header"), "{err}");
    }
}
