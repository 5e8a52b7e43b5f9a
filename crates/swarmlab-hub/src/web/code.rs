//! What the pages read from git: a commit's subject line (cached: commits never change) and
//! the diff of a chain entry, rendered as HTML. Git runs through [`GitStore`]'s hardened
//! commands, off the async runtime.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use swarmlab_core::GitStore;

use super::html::{esc, put};

/// Subjects kept before the cache starts over.
const MAX_SUBJECTS: usize = 200_000;
/// Bytes of diff shown; the rest is summarised.
const MAX_DIFF_BYTES: usize = 256 * 1024;

/// Where a track's repository is.
enum Place {
    /// `tracks/<name>` under the hub's data directory.
    Hub(PathBuf),
    /// A local run's own repository, which holds one track.
    Local { dir: PathBuf, track: String },
}

/// Git access for the pages.
pub struct Code {
    place: Place,
    repos: Mutex<HashMap<String, GitStore>>,
    subjects: Mutex<HashMap<String, Option<String>>>,
}

fn valid_track(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Code {
    /// The repositories of a hub's tracks, under `tracks_dir`.
    pub fn hub(tracks_dir: PathBuf) -> Code {
        Code::at(Place::Hub(tracks_dir))
    }

    /// A local run's repository at `dir`, holding `track`.
    pub fn local(dir: PathBuf, track: &str) -> Code {
        Code::at(Place::Local {
            dir,
            track: track.to_string(),
        })
    }

    fn at(place: Place) -> Code {
        Code {
            place,
            repos: Mutex::new(HashMap::new()),
            subjects: Mutex::new(HashMap::new()),
        }
    }

    /// The track's repository, opened once (blocking).
    fn repo(&self, track: &str) -> Option<GitStore> {
        if let Some(repo) = self.repos.lock().expect("never poisoned").get(track) {
            return Some(repo.clone());
        }
        let dir = match &self.place {
            Place::Hub(root) if valid_track(track) => root.join(track),
            Place::Local { dir, track: t } if t == track => dir.clone(),
            _ => return None,
        };
        let repo = GitStore::open(&dir).ok()?;
        self.repos
            .lock()
            .expect("never poisoned")
            .insert(track.to_string(), repo.clone());
        Some(repo)
    }

    /// The subject lines of `commits` that git knows.
    pub async fn subjects(
        self: &std::sync::Arc<Self>,
        track: &str,
        commits: &[String],
    ) -> HashMap<String, String> {
        let missing: Vec<String> = {
            let cache = self.subjects.lock().expect("never poisoned");
            commits
                .iter()
                .filter(|c| !cache.contains_key(*c))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let (code, track, wanted) = (self.clone(), track.to_string(), missing.clone());
            let found = tokio::task::spawn_blocking(move || {
                let repo = code.repo(&track)?;
                let mut args = vec!["log", "--no-walk=unsorted", "--format=%H%x1f%s"];
                args.extend(wanted.iter().map(String::as_str));
                repo.run(&args).ok()
            })
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
            let mut cache = self.subjects.lock().expect("never poisoned");
            if cache.len() > MAX_SUBJECTS {
                cache.clear();
            }
            for c in &missing {
                cache.insert(c.clone(), None);
            }
            for line in found.lines() {
                if let Some((commit, subject)) = line.split_once('\u{1f}') {
                    cache.insert(commit.to_string(), Some(subject.to_string()));
                }
            }
        }
        let cache = self.subjects.lock().expect("never poisoned");
        commits
            .iter()
            .filter_map(|c| Some((c.clone(), cache.get(c)?.clone()?)))
            .collect()
    }

    /// The diff from `parent` to `commit`, rendered; `None` when git cannot show it.
    pub async fn diff(
        self: &std::sync::Arc<Self>,
        track: &str,
        parent: &str,
        commit: &str,
    ) -> Option<String> {
        let (code, track) = (self.clone(), track.to_string());
        let (parent, commit) = (parent.to_string(), commit.to_string());
        tokio::task::spawn_blocking(move || {
            let repo = code.repo(&track)?;
            repo.diff(&parent, &commit).ok()
        })
        .await
        .ok()
        .flatten()
        .map(|text| render_diff(&text))
    }
}

/// A unified diff as HTML: a line per `<span>`, classed by what it is.
pub fn render_diff(text: &str) -> String {
    if text.trim().is_empty() {
        return "<p class=\"hint\">No changes.</p>".to_string();
    }
    let mut out = String::with_capacity(text.len().min(MAX_DIFF_BYTES) * 2);
    out.push_str("<div class=\"diff\"><pre><code>");
    let mut shown = 0;
    let mut lines = text.lines();
    for line in lines.by_ref() {
        shown += line.len() + 1;
        if shown > MAX_DIFF_BYTES {
            break;
        }
        let class = if line.starts_with("diff --git") {
            "file"
        } else if line.starts_with("@@") {
            "hunk"
        } else if line.starts_with("+++")
            || line.starts_with("---")
            || line.starts_with("index ")
            || line.starts_with("new file")
            || line.starts_with("deleted file")
        {
            "meta"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else {
            "ctx"
        };
        let shown_line = match class {
            "file" => line
                .strip_prefix("diff --git a/")
                .and_then(|rest| rest.split_once(" b/"))
                .map_or(line, |(a, _)| a),
            _ => line,
        };
        put(
            &mut out,
            format_args!("<span class=\"{class}\">{}</span>", esc(shown_line)),
        );
    }
    out.push_str("</code></pre></div>");
    let rest = lines.count();
    if rest > 0 {
        put(
            &mut out,
            format_args!("<p class=\"hint\">{rest} more lines not shown.</p>"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_are_classed_and_escaped() {
        let diff = "diff --git a/params.txt b/params.txt\nindex 1..2 100644\n--- a/params.txt\n+++ b/params.txt\n@@ -1 +1 @@\n-lr = 0.01\n+lr = <0.02>\n";
        let html = render_diff(diff);
        assert!(
            html.contains("<span class=\"file\">params.txt</span>"),
            "{html}"
        );
        assert!(html.contains("<span class=\"del\">-lr = 0.01</span>"));
        assert!(html.contains("<span class=\"add\">+lr = &lt;0.02&gt;</span>"));
        assert!(html.contains("<span class=\"hunk\">"));
        assert!(render_diff("").contains("No changes"));
    }
}
