//! [`set_verify`]: one key of a spec's `[verify]` table set in its text, every other line
//! (comments included) left as it was. What `swarmlab demo --reruns` uses to try a track
//! under another verification rule; it checks nothing else of the spec.

/// `text` with `[verify] key = value`: the key's line replaced when the table has one, else
/// a line added right under the table's header, else the table added at the end.
pub fn set_verify(text: &str, key: &str, value: &str) -> String {
    let line = format!("{key} = {value}");
    let mut out: Vec<String> = Vec::new();
    let (mut in_verify, mut header, mut done) = (false, None, false);
    for l in text.lines() {
        let trimmed = l.trim_start();
        if trimmed.starts_with('[') {
            in_verify = trimmed.trim_end().starts_with("[verify]");
            if in_verify {
                header = Some(out.len());
            }
        } else if in_verify && !done {
            let name = trimmed.split(['=', ' ']).next().unwrap_or("");
            if name == key {
                out.push(line.clone());
                done = true;
                continue;
            }
        }
        out.push(l.to_string());
    }
    match (done, header) {
        (true, _) => {}
        (false, Some(at)) => out.insert(at + 1, line),
        (false, None) => {
            out.push(String::new());
            out.push("[verify]".into());
            out.push(line);
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verify_key_is_replaced_or_added_and_the_rest_kept() {
        let spec = "[run]\nreruns = 7 # not verify's\n\n[verify]\nreruns = 3   # pairs\nalpha = 0.01\n[knobs]\n";
        let replaced = set_verify(spec, "reruns", "2");
        assert_eq!(
            replaced,
            "[run]\nreruns = 7 # not verify's\n\n[verify]\nreruns = 2\nalpha = 0.01\n[knobs]\n"
        );
        let added = set_verify(&replaced, "max_reruns", "2");
        assert!(
            added.contains("[verify]\nmax_reruns = 2\nreruns = 2\n"),
            "{added}"
        );
        assert_eq!(
            set_verify("[run]\n", "reruns", "4"),
            "[run]\n\n[verify]\nreruns = 4\n"
        );
    }
}
