//! The experiment log: copies the program's output into one file, bounded in size, and reads
//! back its end.
//!
//! The file keeps the first `log_limit` bytes as they arrive (so it can be followed live), then
//! holds the rest in a fixed ring of [`LOG_TAIL_BYTES`] and, at the end, writes a marker line
//! and that tail. Memory stays bounded whatever the program writes. It must not interpret the
//! output (metrics are parsed elsewhere).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes of the end of the output kept after the `log_limit` head is full.
pub const LOG_TAIL_BYTES: usize = 1 << 20;

/// Totals of one log once it is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogStats {
    /// Bytes the program wrote.
    pub bytes: u64,
    /// Bytes dropped from the middle.
    pub elided: u64,
}

/// Writes output into a log file, keeping the head and a bounded tail.
pub(crate) struct LogWriter<W: Write> {
    out: W,
    limit: u64,
    head_written: u64,
    head_ends_line: bool,
    total: u64,
    tail: TailRing,
}

impl<W: Write> LogWriter<W> {
    pub(crate) fn new(out: W, limit: u64, tail_bytes: usize) -> Self {
        LogWriter {
            out,
            limit,
            head_written: 0,
            head_ends_line: true,
            total: 0,
            tail: TailRing::new(tail_bytes),
        }
    }

    /// Appends a chunk of output.
    pub(crate) fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.total += chunk.len() as u64;
        let room = usize::try_from(self.limit - self.head_written).unwrap_or(usize::MAX);
        let (head, rest) = chunk.split_at(room.min(chunk.len()));
        if let Some(&last) = head.last() {
            self.out.write_all(head)?;
            self.head_written += head.len() as u64;
            self.head_ends_line = last == b'\n';
        }
        self.tail.push(rest);
        Ok(())
    }

    /// Writes the kept tail (after a marker line when bytes were dropped) and flushes.
    pub(crate) fn finish(mut self) -> io::Result<LogStats> {
        let tail = self.tail.contents();
        let dropped = self.tail.pushed - tail.len() as u64;
        let mut elided = 0;
        if dropped == 0 {
            self.out.write_all(&tail)?;
        } else {
            // Start the kept tail on a line boundary when one is near, so no line is cut.
            let cut = tail[..tail.len() / 2]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            elided = dropped + cut as u64;
            let newline = if self.head_ends_line { "" } else { "\n" };
            writeln!(self.out, "{newline}[swarmlab: {elided} bytes elided]")?;
            self.out.write_all(&tail[cut..])?;
        }
        self.out.flush()?;
        Ok(LogStats {
            bytes: self.total,
            elided,
        })
    }
}

/// The last `cap` bytes pushed, in a fixed buffer allocated on first use.
struct TailRing {
    buf: Vec<u8>,
    cap: usize,
    /// Index of the oldest byte once `buf` is full.
    oldest: usize,
    /// Bytes pushed in all.
    pushed: u64,
}

impl TailRing {
    fn new(cap: usize) -> Self {
        TailRing {
            buf: Vec::new(),
            cap,
            oldest: 0,
            pushed: 0,
        }
    }

    fn push(&mut self, mut data: &[u8]) {
        self.pushed += data.len() as u64;
        if self.cap == 0 || data.is_empty() {
            return;
        }
        if data.len() > self.cap {
            data = &data[data.len() - self.cap..];
        }
        if self.buf.len() < self.cap {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(self.cap);
            }
            let n = (self.cap - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        while !data.is_empty() {
            let n = (self.cap - self.oldest).min(data.len());
            self.buf[self.oldest..self.oldest + n].copy_from_slice(&data[..n]);
            self.oldest = (self.oldest + n) % self.cap;
            data = &data[n..];
        }
    }

    fn contents(&self) -> Vec<u8> {
        let (newer, older) = self.buf.split_at(self.oldest);
        [older, newer].concat()
    }
}

/// The last `max_bytes` of a log as text (invalid UTF-8 replaced), for crash notes and metric
/// parsing. A character cut in half at the start is dropped rather than shown as garbage.
pub fn tail(log_path: &Path, max_bytes: usize) -> io::Result<String> {
    let mut file = File::open(log_path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max_bytes as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.take(max_bytes as u64).read_to_end(&mut bytes)?;
    let skip = if start > 0 {
        // UTF-8 continuation bytes look like 0b10xx_xxxx; at most three precede a char.
        bytes
            .iter()
            .take(3)
            .take_while(|&&b| b & 0xC0 == 0x80)
            .count()
    } else {
        0
    };
    Ok(String::from_utf8_lossy(&bytes[skip..]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(limit: u64, tail: usize, chunks: &[&[u8]]) -> (String, LogStats) {
        let mut buf = Vec::new();
        let mut w = LogWriter::new(&mut buf, limit, tail);
        for c in chunks {
            w.write(c).unwrap();
        }
        let stats = w.finish().unwrap();
        (String::from_utf8(buf).unwrap(), stats)
    }

    #[test]
    fn under_the_limit_everything_is_kept() {
        let (text, stats) = log_of(100, 16, &[b"hello\n", b"world\n"]);
        assert_eq!(text, "hello\nworld\n");
        assert_eq!(
            stats,
            LogStats {
                bytes: 12,
                elided: 0
            }
        );
    }

    #[test]
    fn just_past_the_limit_fits_in_the_tail_without_a_marker() {
        let (text, stats) = log_of(4, 16, &[b"abcdefgh\n"]);
        assert_eq!(text, "abcdefgh\n");
        assert_eq!(stats.elided, 0);
    }

    #[test]
    fn the_middle_is_elided_with_a_marker_and_the_tail_starts_on_a_line() {
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        chunks.push(b"HEAD\n".to_vec());
        for i in 0..1000 {
            chunks.push(format!("line {i}\n").into_bytes());
        }
        let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
        let total: usize = refs.iter().map(|c| c.len()).sum();
        let (text, stats) = log_of(5, 64, &refs);
        assert!(text.starts_with("HEAD\n[swarmlab: "), "{text}");
        assert!(text.ends_with("line 999\n"), "{text}");
        let body = text.split_once(" bytes elided]\n").unwrap().1;
        assert!(body.starts_with("line "), "tail starts mid-line: {body}");
        assert_eq!(stats.bytes, total as u64);
        assert_eq!(stats.elided as usize, total - 5 - body.len());
        assert!(text.contains(&format!("[swarmlab: {} bytes elided]\n", stats.elided)));
    }

    #[test]
    fn the_marker_starts_its_own_line_when_the_head_is_cut_mid_line() {
        let big = vec![b'x'; 500];
        let (text, _) = log_of(3, 10, &[b"abcdef", &big, b"\nend\n"]);
        assert!(text.starts_with("abc\n[swarmlab: "), "{text}");
        assert!(text.ends_with("end\n"), "{text}");
    }

    #[test]
    fn the_ring_keeps_the_last_bytes_across_wraps_and_huge_chunks() {
        let mut ring = TailRing::new(4);
        ring.push(b"ab");
        assert_eq!(ring.contents(), b"ab");
        ring.push(b"cde");
        assert_eq!(ring.contents(), b"bcde");
        ring.push(b"f");
        assert_eq!(ring.contents(), b"cdef");
        ring.push(b"0123456789");
        assert_eq!(ring.contents(), b"6789");
        assert_eq!(ring.pushed, 16);
    }

    #[test]
    fn tail_reads_the_end_and_drops_a_cut_character() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "aaa\nmetric: 1.5\nnaïve é\n").unwrap();
        assert_eq!(tail(&path, 1000).unwrap(), "aaa\nmetric: 1.5\nnaïve é\n");
        assert_eq!(tail(&path, 8).unwrap(), "ïve é\n");
        // 'é' is two bytes; cutting inside it drops the half character.
        assert_eq!(tail(&path, 2).unwrap(), "\n");
        assert!(tail(&dir.path().join("missing"), 10).is_err());
    }
}
