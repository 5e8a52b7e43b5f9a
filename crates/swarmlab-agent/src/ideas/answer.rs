//! The model's answer: a JSON object of ideas, each citing one passage by id and quoting
//! it. Parsing is lenient about wrapping (a code fence, words around the object); checking is
//! strict about sources: an idea whose passage id is unknown, or whose quote is not in that
//! passage, is rejected, so the model cannot invent a source.
//!
//! It must not repair a citation: a quote that is not found is a rejection, never a guess.

use serde::Deserialize;

use super::library::{collapse, Passage};

/// The answer as the prompt asks for it.
#[derive(Debug, Deserialize)]
pub struct Answer {
    pub ideas: Vec<Proposed>,
}

/// One idea as the model wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct Proposed {
    pub idea: String,
    pub passage_id: String,
    pub quote: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Reads the JSON object out of an answer: the text itself, or what lies between its first
/// `{` and last `}` (a code fence or a sentence around it).
pub fn parse(text: &str) -> Result<Answer, String> {
    let trimmed = text.trim();
    let object = match (trimmed.find('{'), trimmed.rfind('}')) {
        (Some(start), Some(end)) if start < end => &trimmed[start..=end],
        _ => return Err("no JSON object in the answer".into()),
    };
    serde_json::from_str(object).map_err(|e| e.to_string())
}

/// The passage `proposed` cites, when it exists and holds the quote (whitespace and case
/// aside); else why the idea is rejected.
pub fn cited<'a>(proposed: &Proposed, passages: &'a [Passage]) -> Result<&'a Passage, String> {
    let Some(passage) = passages.iter().find(|p| p.id == proposed.passage_id.trim()) else {
        return Err(format!(
            "it cites passage `{}`, which was not given",
            proposed.passage_id
        ));
    };
    let quote = collapse(&proposed.quote).to_lowercase();
    if quote.len() < 8 {
        return Err(format!("its quote of {} is too short to check", passage.id));
    }
    if !collapse(&passage.text).to_lowercase().contains(&quote) {
        return Err(format!(
            "its quote is not in passage {} of {}",
            passage.id, passage.document
        ));
    }
    Ok(passage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage() -> Passage {
        Passage {
            id: "p2".into(),
            document: "papers/a.txt".into(),
            text: "Warmup of 500 steps\nhelps small models converge.".into(),
        }
    }

    fn proposed(id: &str, quote: &str) -> Proposed {
        Proposed {
            idea: "warm up longer".into(),
            passage_id: id.into(),
            quote: quote.into(),
            tags: Vec::new(),
        }
    }

    #[test]
    fn an_answer_is_read_through_a_fence_and_garbage_is_not() {
        let fenced = "Here:\n```json\n{\"ideas\": [{\"idea\": \"x\", \"passage_id\": \"p1\", \"quote\": \"q\"}]}\n```";
        assert_eq!(parse(fenced).unwrap().ideas[0].passage_id, "p1");
        assert!(parse("I cannot help with that.").is_err());
        assert!(parse("{\"ideas\": 3}").is_err());
    }

    #[test]
    fn a_citation_must_name_a_given_passage_and_quote_it() {
        let passages = [passage()];
        let ok = proposed("p2", "warmup of 500 steps helps");
        assert_eq!(cited(&ok, &passages).unwrap().id, "p2");
        assert!(cited(&proposed("p9", "warmup of 500 steps"), &passages)
            .unwrap_err()
            .contains("`p9`"));
        assert!(
            cited(&proposed("p2", "cosine decay beats warmup"), &passages)
                .unwrap_err()
                .contains("not in passage p2")
        );
        assert!(cited(&proposed("p2", "steps"), &passages)
            .unwrap_err()
            .contains("too short"));
    }
}
