//! Loading a track: its spec, with the spec's warnings printed to stderr.

use std::path::Path;

use swarmlab_core::{SpecError, TrackSpec};

/// Loads the track in `dir` and prints its warnings to stderr.
pub fn load_track(dir: &Path) -> Result<TrackSpec, SpecError> {
    match TrackSpec::load(dir) {
        Ok((spec, warnings)) => {
            warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            Ok(spec)
        }
        Err(error) => {
            if let SpecError::Invalid { warnings, .. } = &error {
                warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            }
            Err(error)
        }
    }
}
