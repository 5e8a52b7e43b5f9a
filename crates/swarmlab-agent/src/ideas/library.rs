//! The documents `swarmlab ideas` reads, cut into passages a model can cite by id: text and
//! markdown files, PDFs (their text, through `lopdf`), and folders of them (a repository's
//! README and docs are found by walking it). A file that cannot be read is skipped with its
//! reason; the caller says so and goes on.
//!
//! It reads only: it never writes, runs or fetches anything.

use std::fs;
use std::path::{Path, PathBuf};

use super::IdeaError;

/// The longest passage, in characters; longer paragraphs are cut at a sentence or a word.
const PASSAGE_CHARS: usize = 900;
/// Paragraphs shorter than this are joined with the next one.
const SHORT_CHARS: usize = 300;
/// Folders a walk never enters: version control, build outputs, dependencies.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "__pycache__", "venv"];

/// One citable piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// `p1`, `p2`, ... in reading order; what the model cites.
    pub id: String,
    /// The document, as given (a path).
    pub document: String,
    pub text: String,
}

/// A file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The passages of every readable document under the sources given.
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub passages: Vec<Passage>,
    pub skipped: Vec<Skipped>,
    /// Documents read.
    pub documents: usize,
}

impl Library {
    /// Reads `sources` (files or folders). No source at all, a source that does not exist,
    /// or nothing readable under them is an error; an unreadable file is only skipped.
    pub fn read(sources: &[PathBuf]) -> Result<Library, IdeaError> {
        if sources.is_empty() {
            return Err(IdeaError::NoSources);
        }
        let mut files = Vec::new();
        for source in sources {
            if !source.exists() {
                return Err(IdeaError::Missing(source.clone()));
            }
            collect(source, &mut files).map_err(|e| IdeaError::Read {
                path: source.clone(),
                source: e,
            })?;
        }
        let mut library = Library::default();
        for file in files {
            match text_of(&file) {
                Ok(text) if text.trim().is_empty() => library.skipped.push(Skipped {
                    path: file,
                    reason: "no text in it".into(),
                }),
                Ok(text) => {
                    library.documents += 1;
                    let document = file.display().to_string();
                    for piece in passages(&text) {
                        let id = format!("p{}", library.passages.len() + 1);
                        library.passages.push(Passage {
                            id,
                            document: document.clone(),
                            text: piece,
                        });
                    }
                }
                Err(reason) => library.skipped.push(Skipped { path: file, reason }),
            }
        }
        if library.passages.is_empty() {
            return Err(IdeaError::NothingReadable {
                skipped: library.skipped.len(),
            });
        }
        Ok(library)
    }
}

/// Whether a file is a kind of document this reads.
fn is_document(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(
        ext.as_deref(),
        Some("txt" | "md" | "markdown" | "rst" | "pdf")
    )
}

/// The documents at `path`: itself when a file is named (whatever its kind: the user asked
/// for it), else every document under it, in name order, hidden and build folders left out.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries = fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            if !SKIPPED_DIRS.contains(&name) {
                collect(&entry, out)?;
            }
        } else if is_document(&entry) {
            out.push(entry);
        }
    }
    Ok(())
}

/// A document's text, or why it has none to give.
fn text_of(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let is_pdf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
        || bytes.starts_with(b"%PDF-");
    if is_pdf {
        return pdf_text(&bytes);
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text (nor a PDF)".to_string())
}

/// The text of every page of a PDF, pages apart by a blank line.
fn pdf_text(bytes: &[u8]) -> Result<String, String> {
    let document =
        lopdf::Document::load_mem(bytes).map_err(|e| format!("not a readable PDF: {e}"))?;
    let mut text = String::new();
    for page in document.get_pages().keys() {
        let page_text = document
            .extract_text(&[*page])
            .map_err(|e| format!("no text on page {page}: {e}"))?;
        text.push_str(&page_text);
        text.push_str("\n\n");
    }
    Ok(text)
}

/// A text cut into passages: paragraphs (apart by blank lines), whitespace collapsed, short
/// ones joined and long ones cut, each at most [`PASSAGE_CHARS`].
pub fn passages(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n") {
        let paragraph = collapse(paragraph);
        if paragraph.is_empty() {
            continue;
        }
        if !current.is_empty() && current.len() + paragraph.len() + 1 > PASSAGE_CHARS {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&paragraph);
        while current.len() > PASSAGE_CHARS {
            let cut = cut_at(&current, PASSAGE_CHARS);
            let rest = current.split_off(cut);
            out.push(current.trim().to_string());
            current = rest.trim().to_string();
        }
        if current.len() >= SHORT_CHARS {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whitespace runs as one space, ends trimmed.
pub fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where to cut `text` at most `max` bytes in: after the last sentence end, else the last
/// space, else at a character boundary.
fn cut_at(text: &str, max: usize) -> usize {
    let mut limit = max.min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let head = &text[..limit];
    if let Some(i) = head.rfind(". ").filter(|i| *i > max / 2) {
        return i + 1;
    }
    match head.rfind(' ') {
        Some(i) if i > 0 => i,
        _ => limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_become_passages_short_ones_joined_long_ones_cut() {
        let long = "word ".repeat(400);
        let text = format!("Short one.\n\nShort two.\n\n{long}\n\n  \n\nLast.");
        let parts = passages(&text);
        assert_eq!(parts[0], "Short one. Short two.");
        assert!(parts.iter().all(|p| p.len() <= PASSAGE_CHARS), "{parts:?}");
        assert!(parts.last().is_some_and(|p| p.ends_with("Last.")));
        let words: usize = parts.iter().map(|p| p.split_whitespace().count()).sum();
        assert_eq!(words, 400 + 5);
    }

    #[test]
    fn a_folder_is_walked_for_documents_and_a_bad_file_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("docs")).unwrap();
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join("README.md"), "A repository about warmup.").unwrap();
        fs::write(dir.path().join("docs/notes.txt"), "Notes on cosine decay.").unwrap();
        fs::write(dir.path().join(".git/HEAD"), "ref: x").unwrap();
        fs::write(dir.path().join("main.rs"), "fn main() {}").unwrap();
        fs::write(dir.path().join("broken.pdf"), "%PDF-1.4 nothing more").unwrap();
        fs::write(dir.path().join("latin1.txt"), [b'c', 0xe9, b'!']).unwrap();
        fs::write(dir.path().join("empty.md"), "  \n").unwrap();
        let library = Library::read(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(library.documents, 2);
        let ids: Vec<&str> = library.passages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2"]);
        assert!(library.passages[1].document.ends_with("notes.txt"));
        let reasons: Vec<&str> = library.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("not a readable PDF"), "{reasons:?}");
        assert_eq!(
            reasons[1..],
            ["no text in it", "not UTF-8 text (nor a PDF)"]
        );
    }

    /// A one-page PDF saying `line`, in a standard font.
    fn pdf(line: &str) -> Vec<u8> {
        use lopdf::content::{Content, Operation};
        use lopdf::{dictionary, Document, Object, Stream};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
        });
        let resources_id =
            doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
                Operation::new("Tj", vec![Object::string_literal(line)]),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
                "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_pdf_is_read_for_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paper.pdf");
        fs::write(&path, pdf("Gradient clipping at 1.0 stabilises training.")).unwrap();
        let library = Library::read(&[path]).unwrap();
        assert_eq!(library.documents, 1);
        assert_eq!(
            library.passages[0].text,
            "Gradient clipping at 1.0 stabilises training."
        );
    }

    #[test]
    fn no_sources_a_missing_one_or_nothing_readable_is_an_error() {
        assert!(matches!(Library::read(&[]), Err(IdeaError::NoSources)));
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            Library::read(&[missing]),
            Err(IdeaError::Missing(_))
        ));
        fs::write(dir.path().join("x.pdf"), "not a pdf").unwrap();
        assert!(matches!(
            Library::read(&[dir.path().to_path_buf()]),
            Err(IdeaError::NothingReadable { skipped: 1 })
        ));
    }
}
