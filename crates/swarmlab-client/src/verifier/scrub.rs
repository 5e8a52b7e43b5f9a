//! What a verifier tells the hub about a failure, without its local paths: the detail of a
//! fault or a crash goes into the hub's public ledger, and the verifier's folders (its own,
//! its home, its temporary folder) say who runs it and where. [`Scrubber`] replaces each
//! with a placeholder; a candidate's own output, which may name them too (the checkout is
//! bound at its host path), goes through the same scrubber.
//!
//! It only rewrites text: it never decides whose fault a failure is, and the verifier's own
//! log keeps the full paths.

use std::path::Path;

/// Local folders and the placeholder that stands for each in what the hub is sent.
pub(super) struct Scrubber {
    /// Longest first, so that a folder inside another gets its own placeholder.
    folders: Vec<(String, &'static str)>,
}

impl Scrubber {
    /// The folders of the verifier working in `dir`: `dir` itself (as given and resolved),
    /// `$HOME` and the temporary folder.
    pub(super) fn new(dir: &Path) -> Scrubber {
        let home = std::env::var_os("HOME");
        let folders = [
            (Some(dir.to_path_buf()), "<verifier>"),
            (dir.canonicalize().ok(), "<verifier>"),
            (home.map(Into::into), "<home>"),
            (Some(std::env::temp_dir()), "<tmp>"),
        ]
        .into_iter()
        .filter_map(|(path, placeholder)| Some((local_folder(&path?)?, placeholder)))
        .collect();
        Scrubber::with(folders)
    }

    fn with(mut folders: Vec<(String, &'static str)>) -> Scrubber {
        folders.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        folders.dedup_by(|a, b| a.0 == b.0);
        Scrubber { folders }
    }

    /// `text` with every local folder replaced by its placeholder, where it stands as a whole
    /// path or the start of one (`/root/v/trees` for `/root/v`, not `/root/vault`).
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while let Some(c) = rest.chars().next() {
            let starts_path = c == '/' && !out.chars().next_back().is_some_and(in_path);
            if starts_path {
                for (folder, placeholder) in &self.folders {
                    if let Some(after) = rest.strip_prefix(folder.as_str()) {
                        // A name goes on, but a full stop ends a sentence.
                        let next = after.trim_start_matches('.').chars().next();
                        if !next.is_some_and(in_name) {
                            out.push_str(placeholder);
                            rest = after;
                            continue 'scan;
                        }
                    }
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

/// `path` as a folder to scrub: absolute, and not the root, which would match everywhere.
fn local_folder(path: &Path) -> Option<String> {
    let text = path.to_str()?.trim_end_matches('/');
    (text.starts_with('/') && text.len() > 1).then(|| text.to_string())
}

/// A character of a file name.
fn in_name(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '@' | '~')
}

/// A character of a path: a name's, or its separator.
fn in_path(c: char) -> bool {
    in_name(c) || c == '/'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::with(vec![
            ("/root".into(), "<home>"),
            ("/root/verifier".into(), "<verifier>"),
            ("/srv/v".into(), "<verifier>"),
            ("/tmp".into(), "<tmp>"),
        ])
    }

    #[test]
    fn the_verifiers_folders_become_placeholders_and_the_innermost_wins() {
        let s = scrubber();
        assert_eq!(
            s.scrub("`files.editable` entry `params.txt` does not exist in /root/verifier/trees/candidate"),
            "`files.editable` entry `params.txt` does not exist in <verifier>/trees/candidate"
        );
        assert_eq!(
            s.scrub("see /root/.cargo and /tmp/x.log"),
            "see <home>/.cargo and <tmp>/x.log"
        );
        assert_eq!(
            s.scrub("'/srv/v': no space left"),
            "'<verifier>': no space left"
        );
        assert_eq!(s.scrub("at /root."), "at <home>.");
        assert_eq!(s.scrub("/root/verifier"), "<verifier>");
    }

    #[test]
    fn only_whole_path_components_are_replaced() {
        let s = scrubber();
        for text in [
            "/rootless/file",
            "/root_x",
            "/opt/root/verifier",
            "/usr/tmp/file",
            "/srv/vault",
            "crash (exit 1)",
            "ratio 1/root",
        ] {
            assert_eq!(s.scrub(text), text);
        }
    }

    #[test]
    fn the_root_and_relative_folders_are_never_scrubbed() {
        assert_eq!(local_folder(Path::new("/")), None);
        assert_eq!(local_folder(Path::new("relative/dir")), None);
        assert_eq!(
            local_folder(Path::new("/srv/v/")).as_deref(),
            Some("/srv/v")
        );
        let made = Scrubber::new(Path::new("relative"));
        assert!(made
            .folders
            .iter()
            .all(|(f, _)| f.starts_with('/') && f.len() > 1));
    }

    #[test]
    fn a_real_verifier_folder_is_scrubbed_as_given_and_resolved() {
        let tmp = std::env::temp_dir().join(format!("swarmlab-scrub-{}", std::process::id()));
        let real = tmp.join("real");
        std::fs::create_dir_all(&real).unwrap();
        let link = tmp.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let s = Scrubber::new(&link);
        let text = format!("{}/trees and {}/trees", link.display(), real.display());
        let scrubbed = s.scrub(&text);
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(scrubbed, "<verifier>/trees and <verifier>/trees");
        let beside = format!("{}/other", tmp.display());
        let expected = format!("<tmp>/swarmlab-scrub-{}/other", std::process::id());
        assert_eq!(s.scrub(&beside), expected);
    }
}
