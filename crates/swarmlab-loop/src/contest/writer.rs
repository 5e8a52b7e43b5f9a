//! Asking a writer for one program variant. The writer is any [`Proposer`] that edits files
//! (a `script`, a `command` agent, an `openai` model): it is handed a folder of its own
//! holding the champion as the track's program file and the brief as `WRITER.md`, under a
//! spec whose only editable file is the program file and whose instructions are the brief,
//! and what it leaves in the program file is the variant.
//!
//! It judges only whether a text is usable as a variant (not empty, not the champion, not an
//! earlier variant); it never commits, runs a contest or decides what is kept.

use std::path::Path;

use swarmlab_agent::{Context, Proposal, Proposer};
use swarmlab_core::TrackSpec;

use super::Program;

/// The brief's file name in the writer's folder.
pub(crate) const BRIEF_FILE: &str = "WRITER.md";

/// One variant to ask for.
pub(crate) struct Request<'a> {
    /// The track's spec; the writer gets a copy narrowed to the program file.
    pub spec: &'a TrackSpec,
    pub program_file: &'a str,
    /// The writer's folder, emptied and filled here.
    pub folder: &'a Path,
    pub champion: &'a str,
    /// The variants already accepted this round.
    pub earlier: &'a [Program],
    pub brief: &'a str,
    /// The variant's number in its round (from 1), and the seed of the writer.
    pub index: u64,
    pub seed: u64,
}

/// Asks `writer` for a variant: its text, or why there is none, in words for a line.
pub(crate) fn ask(writer: &mut dyn Proposer, request: &Request<'_>) -> Result<String, String> {
    let folder = request.folder;
    let program = folder.join(request.program_file);
    prepare(request, &program).map_err(|e| format!("cannot prepare {}: {e}", folder.display()))?;
    let mut spec = request.spec.clone();
    spec.root = folder.to_path_buf();
    spec.program = Some(BRIEF_FILE.to_string());
    spec.files.editable = vec![request.program_file.to_string()];
    spec.files.trusted = vec![BRIEF_FILE.to_string()];
    spec.knobs.clear();
    let context = Context {
        spec: &spec,
        worktree: folder,
        best_commit: "",
        history: &[],
        index: request.index,
        seed: request.seed,
        idea: None,
    };
    match writer.propose(&context) {
        Ok(Proposal::Change { .. }) => {}
        Ok(Proposal::Nothing { reason }) => return Err(format!("it wrote nothing: {reason}")),
        Ok(Proposal::Failed { reason }) => return Err(format!("it failed: {reason}")),
        Err(e) => return Err(format!("it failed: {e}")),
    }
    let text = std::fs::read_to_string(&program).map_err(|e| {
        format!(
            "cannot read the program it left at {}: {e}",
            program.display()
        )
    })?;
    judge(&text, request.champion, request.earlier)?;
    Ok(text)
}

/// Empties the folder and writes the champion and the brief into it.
fn prepare(request: &Request<'_>, program: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(request.folder) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if let Some(parent) = program.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::create_dir_all(request.folder)?;
    std::fs::write(program, request.champion)?;
    std::fs::write(request.folder.join(BRIEF_FILE), request.brief)
}

/// Whether `text` can compete: not blank, and different from the champion and from every
/// earlier variant (whitespace at the ends aside).
fn judge(text: &str, champion: &str, earlier: &[Program]) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("it left an empty program".into());
    }
    if text.trim() == champion.trim() {
        return Err("its program is identical to the champion".into());
    }
    if let Some(twin) = earlier.iter().find(|e| e.text.trim() == text.trim()) {
        return Err(format!("its program is identical to {}'s", twin.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_repeated_programs_are_refused() {
        assert!(judge("Lower the lr.\n", "Be careful.\n", &[]).is_ok());
        let blank = judge(" \n\n", "Be careful.\n", &[]).unwrap_err();
        assert!(blank.contains("empty"), "{blank}");
        let same = judge("Be careful.", "Be careful.\n", &[]).unwrap_err();
        assert!(same.contains("identical to the champion"), "{same}");
        let program = |name: &str, text: &str| Program {
            name: name.into(),
            text: text.into(),
        };
        let earlier = [program("v1", "C\n"), program("v2", "B\n")];
        let again = judge("B\n", "A\n", &earlier).unwrap_err();
        assert!(again.contains("identical to v2's"), "{again}");
    }
}
