//! [`Bundle`]: a git bundle as intake reads it before git sees it. The header names the
//! refs; the pack's header gives its object count, and a walk over its entries gives what
//! the objects inflate to (a delta counts as the object it makes), each refused against the
//! hub's caps before anything is written or indexed.
//!
//! The walk inflates each entry only to find where the next one starts, and never more of
//! an entry than its header declares: refused early, a bundle whose objects would inflate
//! to gigabytes costs the hub no more than its caps. What the walk must not do: trust the
//! pack (git indexes and verifies it afterwards, checksum included) or keep what it
//! inflates.

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

/// The caps a bundle's pack is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackLimits {
    pub max_objects: u32,
    pub max_inflated_bytes: u64,
}

/// Why a bundle was refused before git saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleRefusal {
    /// Not a git bundle of SHA-1 objects with a well-formed pack.
    Malformed,
    /// The pack holds more objects than the cap.
    TooManyObjects,
    /// The objects would inflate to more than the cap.
    InflatedTooLarge,
}

/// A bundle whose pack passed the caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle<'a> {
    /// The object ids its refs name.
    pub tips: Vec<String>,
    /// The pack, as `git index-pack --stdin` takes it.
    pub pack: &'a [u8],
    pub objects: u32,
    /// What the objects inflate to, deltas applied.
    pub inflated_bytes: u64,
}

const OBJECT_ID_HEX: usize = 40;
const OBJECT_ID_BYTES: usize = 20;

impl<'a> Bundle<'a> {
    /// Reads `bytes` as a v2 or v3 bundle (SHA-1, no filter) and walks its pack.
    pub fn read(bytes: &'a [u8], limits: PackLimits) -> Result<Bundle<'a>, BundleRefusal> {
        let (tips, pack) = header(bytes)?;
        let (objects, inflated_bytes) = walk(pack, limits)?;
        Ok(Bundle {
            tips,
            pack,
            objects,
            inflated_bytes,
        })
    }
}

/// The refs' object ids and the pack after the header's blank line.
fn header(bytes: &[u8]) -> Result<(Vec<String>, &[u8]), BundleRefusal> {
    let mut rest = bytes;
    let mut line = || -> Result<&str, BundleRefusal> {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(BundleRefusal::Malformed)?;
        let text = std::str::from_utf8(&rest[..end]).map_err(|_| BundleRefusal::Malformed)?;
        rest = &rest[end + 1..];
        Ok(text)
    };
    let v3 = match line()? {
        "# v2 git bundle" => false,
        "# v3 git bundle" => true,
        _ => return Err(BundleRefusal::Malformed),
    };
    let mut tips = Vec::new();
    loop {
        let text = line()?;
        if text.is_empty() {
            break;
        }
        if let Some(capability) = text.strip_prefix('@') {
            // Only v3 has capabilities; a filter would make a partial bundle.
            if !v3 || capability != "object-format=sha1" {
                return Err(BundleRefusal::Malformed);
            }
            continue;
        }
        let (id, _) = text
            .strip_prefix('-')
            .unwrap_or(text)
            .split_once(' ')
            .unwrap_or((text, ""));
        if id.len() != OBJECT_ID_HEX || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BundleRefusal::Malformed);
        }
        if !text.starts_with('-') {
            tips.push(id.to_ascii_lowercase());
        }
    }
    Ok((tips, rest))
}

/// The pack's object count and inflated size, refused as soon as either is over its cap.
fn walk(pack: &[u8], limits: PackLimits) -> Result<(u32, u64), BundleRefusal> {
    let malformed = BundleRefusal::Malformed;
    if pack.len() < 12 + OBJECT_ID_BYTES || &pack[..4] != b"PACK" {
        return Err(malformed);
    }
    let version = u32::from_be_bytes([pack[4], pack[5], pack[6], pack[7]]);
    let count = u32::from_be_bytes([pack[8], pack[9], pack[10], pack[11]]);
    if version != 2 && version != 3 {
        return Err(malformed);
    }
    if count > limits.max_objects {
        return Err(BundleRefusal::TooManyObjects);
    }
    let body = &pack[..pack.len() - OBJECT_ID_BYTES];
    let mut at = 12;
    let mut inflated: u64 = 0;
    let mut state = InflateState::new_boxed(DataFormat::Zlib);
    for _ in 0..count {
        let (kind, declared, next) = entry_header(body, at)?;
        at = next;
        match kind {
            1..=4 => {}
            6 => at = skip_offset(body, at)?,
            7 => at += OBJECT_ID_BYTES,
            _ => return Err(malformed),
        }
        // An entry inflates to no more than its header says (git checks it is exactly
        // that): refuse on the header, before inflating anything.
        let over = |total: u64| total > limits.max_inflated_bytes;
        if over(inflated.saturating_add(declared)) {
            return Err(BundleRefusal::InflatedTooLarge);
        }
        let input = body.get(at..).ok_or(malformed)?;
        let (used, start) = inflate_entry(&mut state, input, declared)?;
        at += used;
        // A delta makes an object of the size its data starts with, which may be far
        // larger than the delta.
        let made = match kind {
            6 | 7 => delta_result_size(&start)?.max(declared),
            _ => declared,
        };
        inflated = inflated.saturating_add(made);
        if over(inflated) {
            return Err(BundleRefusal::InflatedTooLarge);
        }
    }
    if at != body.len() {
        return Err(malformed);
    }
    Ok((count, inflated))
}

/// An entry's type, declared size and where its data starts.
fn entry_header(pack: &[u8], mut at: usize) -> Result<(u8, u64, usize), BundleRefusal> {
    let mut byte = *pack.get(at).ok_or(BundleRefusal::Malformed)?;
    at += 1;
    let kind = (byte >> 4) & 0x7;
    let mut size = u64::from(byte & 0x0f);
    let mut shift = 4;
    while byte & 0x80 != 0 {
        byte = *pack.get(at).ok_or(BundleRefusal::Malformed)?;
        at += 1;
        if shift > 57 {
            return Err(BundleRefusal::Malformed);
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    Ok((kind, size, at))
}

/// Past an offset delta's base offset (a big-endian varint).
fn skip_offset(pack: &[u8], mut at: usize) -> Result<usize, BundleRefusal> {
    for _ in 0..10 {
        let byte = *pack.get(at).ok_or(BundleRefusal::Malformed)?;
        at += 1;
        if byte & 0x80 == 0 {
            return Ok(at);
        }
    }
    Err(BundleRefusal::Malformed)
}

/// Inflates one zlib stream from the start of `input` into nothing, refusing one that
/// inflates past `declared`. Returns the compressed length and the first bytes inflated.
fn inflate_entry(
    state: &mut InflateState,
    input: &[u8],
    declared: u64,
) -> Result<(usize, Vec<u8>), BundleRefusal> {
    state.reset(DataFormat::Zlib);
    let mut sink = [0u8; 32 * 1024];
    let (mut used, mut made) = (0usize, 0u64);
    let mut start = Vec::new();
    loop {
        let result = inflate(state, &input[used..], &mut sink, MZFlush::None);
        used += result.bytes_consumed;
        made += result.bytes_written as u64;
        if start.len() < 32 {
            let take = result.bytes_written.min(32 - start.len());
            start.extend_from_slice(&sink[..take]);
        }
        if made > declared {
            return Err(BundleRefusal::Malformed);
        }
        match result.status {
            Ok(MZStatus::StreamEnd) => return Ok((used, start)),
            Ok(_) if result.bytes_consumed + result.bytes_written > 0 => {}
            // Out of input, or a broken stream.
            _ => return Err(BundleRefusal::Malformed),
        }
    }
}

/// The size of the object a delta makes: its second little-endian varint.
fn delta_result_size(delta: &[u8]) -> Result<u64, BundleRefusal> {
    let mut bytes = delta.iter();
    let mut varint = || -> Result<u64, BundleRefusal> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.next().ok_or(BundleRefusal::Malformed)?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(BundleRefusal::Malformed)
    };
    let _base = varint()?;
    varint()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PackLimits = PackLimits {
        max_objects: 10,
        max_inflated_bytes: 1000,
    };

    /// A pack of `objects` (type, content) with a zero checksum: the walk never reads it.
    fn pack(objects: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"PACK".to_vec();
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&(objects.len() as u32).to_be_bytes());
        for (kind, content) in objects {
            let mut size = content.len() as u64;
            let mut byte = (kind << 4) | (size & 0x0f) as u8;
            size >>= 4;
            while size > 0 {
                out.push(byte | 0x80);
                byte = (size & 0x7f) as u8;
                size >>= 7;
            }
            out.push(byte);
            if *kind == 7 {
                out.extend_from_slice(&[0u8; 20]);
            }
            out.extend(miniz_oxide::deflate::compress_to_vec_zlib(content, 6));
        }
        out.extend_from_slice(&[0u8; 20]);
        out
    }

    fn bundle(pack: &[u8]) -> Vec<u8> {
        let id = "a".repeat(40);
        let mut out = format!("# v2 git bundle\n-{id} parent\n{id} refs/heads/x\n\n").into_bytes();
        out.extend_from_slice(pack);
        out
    }

    #[test]
    fn a_small_pack_passes_with_its_count_and_size() {
        let bytes = bundle(&pack(&[(3, b"hello".to_vec()), (1, vec![b'c'; 100])]));
        let read = Bundle::read(&bytes, LIMITS).unwrap();
        assert_eq!((read.objects, read.inflated_bytes), (2, 105));
        assert_eq!(read.tips, vec!["a".repeat(40)]);
    }

    #[test]
    fn too_many_objects_or_too_many_bytes_are_refused() {
        let many: Vec<_> = (0..11).map(|_| (3, b"x".to_vec())).collect();
        assert_eq!(
            Bundle::read(&bundle(&pack(&many)), LIMITS),
            Err(BundleRefusal::TooManyObjects)
        );
        let big = bundle(&pack(&[(3, vec![0; 1001])]));
        assert_eq!(
            Bundle::read(&big, LIMITS),
            Err(BundleRefusal::InflatedTooLarge)
        );
        // A small delta that makes a large object counts as the object.
        let delta = vec![0x05, 0xe9, 0x07, 0x90, 0x01];
        assert_eq!(
            Bundle::read(&bundle(&pack(&[(7, delta)])), LIMITS),
            Err(BundleRefusal::InflatedTooLarge)
        );
    }

    #[test]
    fn a_stream_that_inflates_past_its_header_or_a_truncated_pack_is_malformed() {
        let mut lying = pack(&[(3, vec![b'x'; 10])]);
        lying[12] = 0x30 | 2; // the blob of 10 bytes declares 2
        assert_eq!(
            Bundle::read(&bundle(&lying), LIMITS),
            Err(BundleRefusal::Malformed)
        );
        let whole = pack(&[(3, vec![b'x'; 50])]);
        let cut = bundle(&whole[..whole.len() - 25]);
        assert_eq!(Bundle::read(&cut, LIMITS), Err(BundleRefusal::Malformed));
        assert_eq!(
            Bundle::read(b"not a bundle\n\n", LIMITS),
            Err(BundleRefusal::Malformed)
        );
    }
}
