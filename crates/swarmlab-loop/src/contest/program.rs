//! [`Program`]: one contestant, a program file of instructions read once at the start and
//! named by its file stem (`lower-lr.md` is `lower-lr`), the name its branches carry.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ContestError;

/// One program of a contest: its name and the text copied over the track's program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub name: String,
    pub text: String,
}

impl Program {
    /// Reads every program file and checks their names: each must be usable in a branch
    /// name and no two may share one.
    pub fn read_all(paths: &[impl AsRef<Path>]) -> Result<Vec<Program>, ContestError> {
        if paths.len() < 2 {
            return Err(ContestError::Input(
                "a contest needs at least two programs: give --programs A.md B.md ...".into(),
            ));
        }
        let mut programs: Vec<Program> = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let text =
                std::fs::read_to_string(path).map_err(|source| ContestError::ProgramFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                || name.starts_with('.')
                || name.contains("..")
            {
                return Err(ContestError::Input(format!(
                    "program file {} cannot name a branch; rename it to letters, digits, `-`, `_` and `.` (e.g. lower-lr.md)",
                    path.display()
                )));
            }
            if programs.iter().any(|p| p.name == name) {
                return Err(ContestError::Input(format!(
                    "two programs are named `{name}` (the file name without .md names a program); rename one of them"
                )));
            }
            programs.push(Program { name, text });
        }
        Ok(programs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_file_stems_and_must_differ() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let write = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, name).expect("write");
            path
        };
        let (a, b) = (write("lower-lr.md"), write("plain.md"));
        let programs = Program::read_all(&[&a, &b]).expect("two good programs");
        assert_eq!(programs[0].name, "lower-lr");
        assert_eq!(programs[1].text, "plain.md");
        std::fs::create_dir(dir.path().join("other")).expect("mkdir");
        let again = dir.path().join("other/plain.md");
        std::fs::write(&again, "x").expect("write");
        let err = Program::read_all(&[&b, &again]).unwrap_err();
        assert!(
            err.to_string().contains("two programs are named `plain`"),
            "{err}"
        );
        let odd = write("a b.md");
        assert!(matches!(
            Program::read_all(&[&a, &odd]),
            Err(ContestError::Input(_))
        ));
        let missing = dir.path().join("missing.md");
        assert!(matches!(
            Program::read_all(&[&a, &missing]),
            Err(ContestError::ProgramFile { .. })
        ));
    }
}
