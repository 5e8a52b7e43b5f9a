//! The editable files a track's knobs live in, read once and written back once.

use std::collections::BTreeMap;
use std::path::Path;

use swarmlab_core::spec::Knob;

use crate::ProposeError;

/// The text of every file some knob lives in, by path relative to the track root.
pub(super) struct Files {
    contents: BTreeMap<String, String>,
}

impl Files {
    pub(super) fn read(root: &Path, knobs: &[Knob]) -> Result<Files, ProposeError> {
        let mut contents = BTreeMap::new();
        for knob in knobs {
            if !contents.contains_key(&knob.file) {
                let path = root.join(&knob.file);
                let text = std::fs::read_to_string(&path).map_err(|source| ProposeError::Io {
                    action: "read",
                    path,
                    source,
                })?;
                contents.insert(knob.file.clone(), text);
            }
        }
        Ok(Files { contents })
    }

    pub(super) fn value(&self, knob: &Knob) -> Result<&str, ProposeError> {
        let text = &self.contents[&knob.file];
        knob.locate(text).map(|(_, v)| v).ok_or_else(|| {
            ProposeError::Unusable(format!(
                "knob `{}`: its pattern no longer matches anything in {}",
                knob.name, knob.file
            ))
        })
    }

    pub(super) fn set(&mut self, knob: &Knob, value: &str) -> Result<(), ProposeError> {
        let text = self
            .contents
            .get_mut(&knob.file)
            .expect("every knob's file was read");
        let (range, _) = knob.locate(text).ok_or_else(|| {
            ProposeError::Unusable(format!(
                "knob `{}`: its pattern no longer matches {}",
                knob.name, knob.file
            ))
        })?;
        text.replace_range(range, value);
        Ok(())
    }

    pub(super) fn write(&self, root: &Path) -> Result<(), ProposeError> {
        for (file, text) in &self.contents {
            let path = root.join(file);
            std::fs::write(&path, text).map_err(|source| ProposeError::Io {
                action: "write",
                path,
                source,
            })?;
        }
        Ok(())
    }
}
