//! `swarmlab audit LEDGER --key HEX`: check an exported ledger offline, the hub's signatures
//! and every verifier's (`swarmlab_hub::audit`).

use anyhow::Context;

use crate::cli::AuditArgs;

pub fn audit(args: &AuditArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.ledger)
        .with_context(|| format!("failed to read {}", args.ledger.display()))?;
    let key = swarmlab_proto::signing::parse_public_key(args.key.trim())
        .context("--key is not a hub public key")?;
    let report = swarmlab_hub::audit(&text, &key)
        .with_context(|| format!("{} does not audit", args.ledger.display()))?;
    println!(
        "ok: track {}: {}; {}; head {}{}; last hash {}",
        report.track,
        report.counts(),
        report.signatures_line(),
        report.head,
        report
            .main
            .as_deref()
            .map(|m| format!(", main {m}"))
            .unwrap_or_default(),
        report.last_hash
    );
    Ok(())
}
