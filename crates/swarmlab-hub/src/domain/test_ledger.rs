//! What the audit's and the roster's tests build ledgers from.

use swarmlab_proto::signing::SigningKey;
use swarmlab_proto::EventBody;

use super::ledger::seal;

/// `events` as ledger lines of track `t`, sealed in order by `key`.
pub(crate) fn sealed(key: &SigningKey, events: Vec<EventBody>) -> String {
    let mut out = String::new();
    let mut prev: Option<(u64, String)> = None;
    for event in events {
        let e = seal(
            key,
            "t",
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            5,
            event,
        );
        out.push_str(&e.to_line());
        out.push('\n');
        prev = Some((e.seq, e.hash));
    }
    out
}

/// The head moving from `b0` to `c1` on submission 1, backed by the verdict at `verdict_seq`.
pub(crate) fn head_move(verdict_seq: u64) -> EventBody {
    EventBody::HeadMove {
        from: "b0".into(),
        to: "c1".into(),
        submission_id: 1,
        verdict_seq,
        credit: None,
    }
}
