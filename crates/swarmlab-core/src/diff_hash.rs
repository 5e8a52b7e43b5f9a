//! A stable hash of what a unified diff changes, so the same edit made twice is recognised:
//! by the local loop's memory and by the hub's duplicate check alike.

/// A stable 64-bit hash of what a unified diff changes: the added and removed lines with all
/// whitespace removed, and the files they belong to. Context lines, hunk headers, `index`
/// lines, line numbers and whitespace-only changes do not count, so the same edit made twice
/// (even against a slightly different parent, or reindented) hashes the same.
///
/// The hash is FNV-1a, fixed forever, so it may be stored.
pub fn normalised_diff_hash(diff: &str) -> u64 {
    let mut hash = Fnv::new();
    for line in diff.lines() {
        if let Some(path) = line.strip_prefix("+++ ") {
            let path = path.trim();
            let path = path.strip_prefix("b/").unwrap_or(path);
            hash.write(b"F");
            hash.write(path.as_bytes());
            hash.write(b"\n");
            continue;
        }
        if line.starts_with("--- ") {
            continue;
        }
        let (sign, rest) = match line.as_bytes().first() {
            Some(b'+') => (b"+", &line[1..]),
            Some(b'-') => (b"-", &line[1..]),
            _ => continue,
        };
        let squeezed: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
        if squeezed.is_empty() {
            continue;
        }
        hash.write(sign);
        hash.write(squeezed.as_bytes());
        hash.write(b"\n");
    }
    hash.0
}

/// The form a diff hash is stored in: 16 lowercase hex digits.
pub fn diff_hash_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests;
