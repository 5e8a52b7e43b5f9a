//! The byte table of autoresearch's tokenizer: the `token_bytes.pt` its setup saves (torch's
//! zip archive of one int32 tensor), read so that `swarmlab init` can commit it as the text
//! table a verifier scores with (`token_bytes.txt`, one line per token).
//!
//! It reads one file and checks what it reads; it must not guess. Anything but one
//! little-endian int32 tensor stored uncompressed, with no negative entry, is refused.

use std::path::Path;

/// The most a byte table's archive may weigh (autoresearch's is about 33 KiB).
const MAX_BYTES: u64 = 16 << 20;

/// The table in `path`, or what is wrong with it.
pub fn read(path: &Path) -> Result<Vec<u32>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_BYTES {
        return Err(format!("{size} bytes is too large for a byte table"));
    }
    let archive = std::fs::read(path).map_err(|e| e.to_string())?;
    let entries = central_directory(&archive)?;
    let find = |suffix: &'static str| entries.iter().filter(move |e| e.name.ends_with(suffix));
    let pickle = one(find("/data.pkl"), "data.pkl")?;
    if !bytes_of(&archive, pickle)?
        .windows(10)
        .any(|w| w == b"IntStorage")
    {
        return Err("the tensor is not int32 (no IntStorage in its data.pkl)".into());
    }
    if let Some(order) = find("/byteorder").next() {
        if bytes_of(&archive, order)? != b"little" {
            return Err("the tensor is not stored little-endian".into());
        }
    }
    let storage = one(
        entries
            .iter()
            .filter(|e| e.name.split('/').rev().nth(1) == Some("data")),
        "data/0 (exactly one storage)",
    )?;
    let data = bytes_of(&archive, storage)?;
    if data.len() % 4 != 0 {
        return Err(format!(
            "its storage holds {} bytes, not int32s",
            data.len()
        ));
    }
    data.chunks_exact(4)
        .enumerate()
        .map(|(i, b)| {
            u32::try_from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .map_err(|_| format!("token {i} has a negative byte count"))
        })
        .collect()
}

/// The table as `eval.token_bytes` reads it: one count per line.
pub fn text(table: &[u32]) -> String {
    table.iter().map(|n| format!("{n}\n")).collect()
}

/// One file of the archive, as its central directory describes it.
struct Entry {
    name: String,
    stored: bool,
    size: usize,
    local_header: usize,
}

fn one<'a>(mut found: impl Iterator<Item = &'a Entry>, what: &str) -> Result<&'a Entry, String> {
    match (found.next(), found.next()) {
        (Some(entry), None) => Ok(entry),
        _ => Err(format!(
            "not a torch tensor file: it does not hold one {what}"
        )),
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<usize> {
    data.get(at..at + 2)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(data: &[u8], at: usize) -> Option<usize> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// The entries of a zip archive (no zip64: a byte table is small).
fn central_directory(data: &[u8]) -> Result<Vec<Entry>, String> {
    const END: &[u8] = b"PK\x05\x06";
    const ENTRY: &[u8] = b"PK\x01\x02";
    let broken = || "not a torch tensor file (a zip archive)".to_string();
    let end = (0..data.len().saturating_sub(21))
        .rev()
        .find(|&i| data[i..].starts_with(END))
        .ok_or_else(broken)?;
    let count = u16_at(data, end + 10).ok_or_else(broken)?;
    let mut at = u32_at(data, end + 16).ok_or_else(broken)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        if !data.get(at..).is_some_and(|d| d.starts_with(ENTRY)) {
            return Err(broken());
        }
        let field = |offset: usize, width: usize| {
            if width == 2 {
                u16_at(data, at + offset)
            } else {
                u32_at(data, at + offset)
            }
            .ok_or_else(broken)
        };
        let (method, size, name_len) = (field(10, 2)?, field(20, 4)?, field(28, 2)?);
        let rest = field(30, 2)? + field(32, 2)?;
        let local_header = field(42, 4)?;
        let name = data.get(at + 46..at + 46 + name_len).ok_or_else(broken)?;
        entries.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            stored: method == 0,
            size,
            local_header,
        });
        at += 46 + name_len + rest;
    }
    Ok(entries)
}

/// The content of a stored entry.
fn bytes_of<'a>(data: &'a [u8], entry: &Entry) -> Result<&'a [u8], String> {
    if !entry.stored {
        return Err(format!(
            "{} is compressed; torch stores tensors uncompressed",
            entry.name
        ));
    }
    let at = entry.local_header;
    let broken = || format!("{} lies outside the archive", entry.name);
    if !data.get(at..).is_some_and(|d| d.starts_with(b"PK\x03\x04")) {
        return Err(broken());
    }
    let start = at
        + 30
        + u16_at(data, at + 26).ok_or_else(broken)?
        + u16_at(data, at + 28).ok_or_else(broken)?;
    data.get(start..start + entry.size).ok_or_else(broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/autoresearch/token_bytes.pt")
    }

    #[test]
    fn the_table_torch_saved_is_read_entry_for_entry() {
        // Written by torch.save(torch.tensor(table, dtype=torch.int32), ...), as autoresearch's
        // prepare.py saves it; the table is the fixture's (`tests/fixtures/autoresearch`).
        let table = read(&fixture()).unwrap();
        assert_eq!(table.len(), 8192);
        assert_eq!(&table[..3], &[1, 1, 1]);
        assert_eq!(table[200], 3, "a byte over 127 decodes to U+FFFD, 3 bytes");
        assert_eq!(&table[8188..], &[0, 0, 0, 0], "the four special tokens");
        assert_eq!(text(&table[..2]), "1\n1\n");
    }

    #[test]
    fn anything_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token_bytes.pt");
        std::fs::write(&path, b"not a zip at all, just text").unwrap();
        assert!(read(&path).unwrap_err().contains("not a torch tensor file"));
        let mut archive = std::fs::read(fixture()).unwrap();
        let at = archive
            .windows(10)
            .position(|w| w == b"IntStorage")
            .unwrap();
        archive[at..at + 10].copy_from_slice(b"LngStorage");
        std::fs::write(&path, &archive).unwrap();
        assert!(read(&path).unwrap_err().contains("not int32"));
        assert!(read(&dir.path().join("missing.pt")).is_err());
    }
}
