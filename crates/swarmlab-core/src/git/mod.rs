//! The git side of the loop, hardened for repositories swarmlab did not write.
//!
//! swarmlab drives the `git` CLI (gix has no `reset --hard`) with a configuration that turns
//! off everything a repository could use to run code: hooks, fsmonitor, filters and diff
//! drivers named in `.gitattributes` (attributes are read from the empty tree), external
//! diff, pagers, editors, credential helpers, signing and any network transport. See
//! docs/git.md for the full list and why each is there.

mod store;

pub use store::{GitError, GitStore};

/// The first seven characters of a commit id, as swarmlab prints commits to people.
pub fn short(commit: &str) -> &str {
    match commit.char_indices().nth(7) {
        Some((end, _)) => &commit[..end],
        None => commit,
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_is_the_first_seven_characters() {
        assert_eq!(short("0123456789abcdef"), "0123456");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short(""), "");
        // A malformed id is cut at a character boundary, never panics.
        assert_eq!(short("ééééééééé"), "ééééééé");
    }
}
