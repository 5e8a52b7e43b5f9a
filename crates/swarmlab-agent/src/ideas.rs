//! The automated scientist (`swarmlab ideas`): from documents ([`library`]) and a track's
//! history, a chat model proposes ideas, each citing the passage it rests on. An idea whose
//! citation is not a passage it was given, quoted, is rejected ([`answer`]); one that nearly
//! repeats a queued, tried or chained idea, or another idea of this run, is dropped by the
//! hub's own rule (`swarmlab_core::likeness`).
//!
//! It proposes only: it never posts, edits a track or runs anything; where ideas go (a hub's
//! queue, a screen) is the caller's business.

mod answer;
pub mod library;

use serde_json::json;
use swarmlab_core::likeness;
use swarmlab_core::usage::Usage;

use crate::chat::{ChatClient, ChatError, Message};
use crate::openai::{chat_client, OpenAiConfig};
use crate::ProposeError;
pub use library::{Library, Passage, Skipped};

/// The most characters of passages sent in one request; more passages go in more requests.
const BATCH_CHARS: usize = 24_000;
/// The most ideas of the history the prompt lists (the latest); repeats of older ones are
/// still dropped.
const HISTORY_SHOWN: usize = 100;

const SYSTEM: &str = "You are a research scientist proposing experiments that could improve a \
program against one metric. You build only on the passages you are given, you cite exactly \
one passage for each idea, and you answer only with the JSON object asked for.";

/// What became of an idea the track already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// In the queue, not tried yet.
    Queued,
    /// Tried, not kept.
    Tried,
    /// Led to a commit on the verified chain.
    Chained,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Queued => "queued",
            Fate::Tried => "tried, not kept",
            Fate::Chained => "kept on the chain",
        }
    }
}

/// An idea of the track's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// Its id in the hub's queue.
    pub id: i64,
    pub text: String,
    pub fate: Fate,
}

/// An idea the model proposed whose citation checked out and which repeats nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedIdea {
    pub text: String,
    pub tags: Vec<String>,
    /// The document of the passage cited.
    pub document: String,
    /// The cited passage's id in this run (`p3`).
    pub passage_id: String,
    /// The quote, whitespace collapsed, as found in the passage.
    pub quote: String,
}

/// An idea the model proposed that is not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub text: String,
    pub reason: String,
}

/// What a run of the generator produced.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    pub ideas: Vec<SourcedIdea>,
    pub dropped: Vec<Dropped>,
    pub usage: Usage,
}

/// Why no ideas came.
#[derive(Debug, thiserror::Error)]
pub enum IdeaError {
    #[error(
        "no sources given: name .txt, .md or .pdf files, or folders holding them, with --sources"
    )]
    NoSources,
    #[error("source {0} does not exist")]
    Missing(std::path::PathBuf),
    #[error("failed to read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("no readable text in the sources ({skipped} files skipped): give .txt, .md or .pdf files with text in them")]
    NothingReadable { skipped: usize },
    #[error("{0}")]
    Model(#[from] ProposeError),
    #[error("the model API failed: {0}")]
    Chat(#[from] ChatError),
    #[error("the model's answer is not the JSON asked for, also when asked again: {reason}")]
    Garbage { reason: String },
}

/// How many ideas to ask for and how alike counts as a repeat.
#[derive(Debug, Clone)]
pub struct IdeaConfig {
    pub model: OpenAiConfig,
    /// Stop once this many ideas are kept.
    pub max_ideas: usize,
    /// Similarity at or above which an idea repeats another (the hub's default).
    pub threshold: f64,
}

impl IdeaConfig {
    pub fn new(model: OpenAiConfig) -> IdeaConfig {
        IdeaConfig {
            model,
            max_ideas: 10,
            threshold: likeness::DEFAULT_THRESHOLD,
        }
    }
}

/// Asks the model for ideas over `library`, batch by batch, until `max_ideas` are kept or the
/// passages run out. `brief` says what the track is; `earlier` is its history.
pub fn generate(
    config: &IdeaConfig,
    brief: &str,
    library: &Library,
    earlier: &[Earlier],
) -> Result<Generation, IdeaError> {
    let client = chat_client(&config.model)?;
    let mut out = Generation::default();
    for batch in batches(&library.passages) {
        if out.ideas.len() >= config.max_ideas {
            break;
        }
        let wanted = config.max_ideas - out.ideas.len();
        let prompt = prompt(brief, batch, earlier, wanted);
        let proposed = ask(&client, &prompt, &mut out.usage)?;
        for idea in proposed {
            if out.ideas.len() >= config.max_ideas {
                break;
            }
            match judge(&idea, batch, earlier, &out.ideas, config.threshold) {
                Ok(kept) => out.ideas.push(kept),
                Err(reason) => out.dropped.push(Dropped {
                    text: idea.idea.trim().to_string(),
                    reason,
                }),
            }
        }
    }
    Ok(out)
}

/// The passages in runs of at most [`BATCH_CHARS`] characters (a longer passage alone).
fn batches(passages: &[Passage]) -> Vec<&[Passage]> {
    let mut out = Vec::new();
    let (mut start, mut chars) = (0, 0);
    for (i, passage) in passages.iter().enumerate() {
        if i > start && chars + passage.text.len() > BATCH_CHARS {
            out.push(&passages[start..i]);
            (start, chars) = (i, 0);
        }
        chars += passage.text.len();
    }
    if start < passages.len() {
        out.push(&passages[start..]);
    }
    out
}

/// The request: the track, its history, the passages by id, and the answer's format.
pub fn prompt(brief: &str, passages: &[Passage], earlier: &[Earlier], wanted: usize) -> String {
    let mut text = format!("# The track\n\n{}\n\n# Its history\n\n", brief.trim());
    if earlier.is_empty() {
        text.push_str("No ideas have been tried yet.\n");
    }
    let hidden = earlier.len().saturating_sub(HISTORY_SHOWN);
    if hidden > 0 {
        text.push_str(&format!("({hidden} older ideas are not shown.)\n"));
    }
    for idea in &earlier[hidden..] {
        text.push_str(&format!(
            "- #{} ({}): {}\n",
            idea.id,
            idea.fate.as_str(),
            idea.text
        ));
    }
    text.push_str("\n# Passages\n\n");
    for passage in passages {
        text.push_str(&format!(
            "[{}] from {}:\n{}\n\n",
            passage.id, passage.document, passage.text
        ));
    }
    let format = json!({"ideas": [{
        "idea": "one concrete change to try, in a sentence or two",
        "passage_id": "p1",
        "quote": "the words of that passage the idea rests on, copied exactly",
        "tags": ["a short topic word"]
    }]});
    text.push_str(&format!(
        "# Your task\n\nPropose up to {wanted} new ideas for experiments on this track, each \
         drawn from one of the passages above. Do not repeat an idea of the history, whether \
         queued, tried or kept; build on what was kept and avoid what failed. Cite the passage \
         by its id and copy the words you rely on exactly: an idea whose quote is not in the \
         passage it cites is thrown away. Answer with only this JSON object:\n\n{format}\n"
    ));
    text
}

/// Sends the prompt; an answer that is not the JSON asked for is sent back once with the
/// parse error before giving up.
fn ask(
    client: &ChatClient,
    prompt: &str,
    usage: &mut Usage,
) -> Result<Vec<answer::Proposed>, IdeaError> {
    let mut messages = vec![Message::system(SYSTEM), Message::user(prompt)];
    let first = client.complete(&messages, usage)?;
    let reason = match answer::parse(&first) {
        Ok(parsed) => return Ok(parsed.ideas),
        Err(reason) => reason,
    };
    messages.push(Message::assistant(first));
    messages.push(Message::user(format!(
        "That answer could not be read: {reason}. Answer again with only the JSON object \
         described above, and nothing around it."
    )));
    let second = client.complete(&messages, usage)?;
    answer::parse(&second)
        .map(|parsed| parsed.ideas)
        .map_err(|reason| IdeaError::Garbage { reason })
}

/// Keeps a proposed idea when its citation checks out and it repeats nothing; else says why.
fn judge(
    idea: &answer::Proposed,
    passages: &[Passage],
    earlier: &[Earlier],
    kept: &[SourcedIdea],
    threshold: f64,
) -> Result<SourcedIdea, String> {
    let text = idea.idea.trim();
    if text.is_empty() {
        return Err("it has no text".into());
    }
    let passage = answer::cited(idea, passages)?;
    let history = earlier.iter().map(|e| (Some(e), e.text.as_str()));
    let ours = kept.iter().map(|k| (None, k.text.as_str()));
    if let Some((like, similarity)) =
        likeness::nearest_duplicate(text, history.chain(ours), threshold)
    {
        let percent = similarity * 100.0;
        return Err(match like {
            Some(e) => format!(
                "it nearly repeats #{} ({}), {percent:.0}% alike",
                e.id,
                e.fate.as_str()
            ),
            None => format!("it nearly repeats another idea of this run, {percent:.0}% alike"),
        });
    }
    Ok(SourcedIdea {
        text: text.to_string(),
        tags: idea.tags.clone(),
        document: passage.document.clone(),
        passage_id: passage.id.clone(),
        quote: library::collapse(&idea.quote),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(id: &str, text: &str) -> Passage {
        Passage {
            id: id.into(),
            document: "a.txt".into(),
            text: text.into(),
        }
    }

    #[test]
    fn passages_are_batched_by_characters() {
        let big = "x".repeat(BATCH_CHARS - 10);
        let passages = [
            passage("p1", &big),
            passage("p2", "small"),
            passage("p3", &big),
        ];
        let sizes: Vec<usize> = batches(&passages).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 1]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn a_repeat_of_history_or_of_this_run_is_dropped_with_its_reason() {
        let passages = [passage(
            "p1",
            "Rotary embeddings help small language models.",
        )];
        let earlier = [Earlier {
            id: 4,
            text: "use rotary position embeddings in attention".into(),
            fate: Fate::Tried,
        }];
        let proposed = |text: &str| answer::Proposed {
            idea: text.into(),
            passage_id: "p1".into(),
            quote: "rotary embeddings help".into(),
            tags: Vec::new(),
        };
        let repeat = judge(
            &proposed("Use rotary position embeddings in attention."),
            &passages,
            &earlier,
            &[],
            likeness::DEFAULT_THRESHOLD,
        );
        assert!(repeat.unwrap_err().contains("#4 (tried, not kept)"));
        let fresh = judge(
            &proposed("Halve the rotary base"),
            &passages,
            &earlier,
            &[],
            0.6,
        )
        .unwrap();
        assert_eq!(
            (fresh.passage_id.as_str(), fresh.document.as_str()),
            ("p1", "a.txt")
        );
        let blank = judge(&proposed("  "), &passages, &earlier, &[], 0.6);
        assert_eq!(blank.unwrap_err(), "it has no text");
        let again = judge(
            &proposed("halve the rotary base"),
            &passages,
            &earlier,
            &[fresh],
            0.6,
        );
        assert!(again.unwrap_err().contains("another idea of this run"));
    }

    #[test]
    fn the_prompt_lists_history_passages_and_the_format() {
        let earlier = [Earlier {
            id: 2,
            text: "double the width".into(),
            fate: Fate::Chained,
        }];
        let text = prompt(
            "toy: minimize loss",
            &[passage("p1", "Deeper is better.")],
            &earlier,
            3,
        );
        assert!(text.contains("- #2 (kept on the chain): double the width"));
        assert!(text.contains("[p1] from a.txt:\nDeeper is better."));
        assert!(text.contains("up to 3 new ideas"));
        assert!(text.contains("\"passage_id\""));

        let long: Vec<Earlier> = (1..=HISTORY_SHOWN as i64 + 3)
            .map(|id| Earlier {
                id,
                text: format!("idea {id}"),
                fate: Fate::Queued,
            })
            .collect();
        let text = prompt("toy", &[], &long, 1);
        assert!(text.contains("(3 older ideas are not shown.)"));
        assert!(!text.contains("- #3 (queued)") && text.contains("- #4 (queued)"));
    }
}
