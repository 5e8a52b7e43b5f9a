//! placeholder: see the runner brief
