//! The chart's options, on a made-up series: the two frames, links, the reference line,
//! thinning, label placement and the text it asks for. `progress.svg` itself is tested in
//! `report::progress`.

use std::cell::Cell;

use super::*;

/// A series of points with made-up text, counting the titles it is asked for.
struct Made {
    points: Vec<Point>,
    labels: Vec<Option<String>>,
    links: bool,
    titles: Cell<usize>,
}

impl Made {
    fn new(points: Vec<Point>) -> Made {
        let labels = points
            .iter()
            .map(|p| p.kept.then(|| format!("change {}", p.x)))
            .collect();
        Made {
            points,
            labels,
            links: false,
            titles: Cell::new(0),
        }
    }

    fn linked(mut self) -> Made {
        self.links = true;
        self
    }
}

impl Series for Made {
    fn points(&self) -> &[Point] {
        &self.points
    }

    fn title(&self, i: usize) -> String {
        self.titles.set(self.titles.get() + 1);
        format!("point {}", self.points[i].x)
    }

    fn label(&self, i: usize) -> Option<&str> {
        self.labels[i].as_deref()
    }

    fn link(&self, i: usize) -> Option<Link> {
        self.links.then(|| Link {
            href: format!("/entry?n={}&x=1", self.points[i].x),
            seq: self.points[i].x as i64,
        })
    }
}

fn kept(x: u64, value: f64, gain: Option<f64>) -> Point {
    Point {
        x,
        value: Some(value),
        kept: true,
        gain,
    }
}

fn discarded(x: u64, value: f64) -> Point {
    Point {
        x,
        value: Some(value),
        kept: false,
        gain: None,
    }
}

fn failed(x: u64) -> Point {
    Point {
        x,
        value: None,
        kept: false,
        gain: None,
    }
}

/// A minimize run: a baseline at 1.0, then `n` points, every tenth kept a little better.
fn run(n: u64) -> Vec<Point> {
    let mut points = vec![kept(0, 1.0, None)];
    let mut best = 1.0;
    for x in 1..=n {
        if x % 10 == 0 {
            best -= 0.001;
            points.push(kept(x, best, Some(0.001 + (x % 7) as f64 * 1e-4)));
        } else if x % 13 == 0 {
            points.push(failed(x));
        } else {
            points.push(discarded(x, best + 0.002 + (x % 5) as f64 * 0.001));
        }
    }
    points
}

fn chart(frame: Frame<'_>) -> Chart<'_> {
    Chart {
        frame,
        title: "Progress of loss",
        description: Some("a test"),
        metric: "loss",
        goal: Goal::Minimize,
        noun: "verification",
        reference: None,
    }
}

fn with_class<'d>(doc: &'d roxmltree::Document, class: &str) -> Vec<roxmltree::Node<'d, 'd>> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|t| t == class))
        })
        .collect()
}

#[test]
fn a_file_is_a_document_and_a_page_gets_an_element() {
    let series = Made::new(run(30));
    let file = chart(Frame::File { subtitle: "sub" }).svg(&series);
    assert!(file.starts_with("<?xml"));
    let doc = roxmltree::Document::parse(&file).expect("valid XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("width"), Some("1200"));
    assert!(file.contains(">sub</text>"), "the subtitle is drawn");
    assert_eq!(with_class(&doc, "legend").len(), 1);

    let page = chart(Frame::Page).svg(&series);
    assert!(page.starts_with("<svg"), "no XML declaration in a page");
    let doc = roxmltree::Document::parse(&page).expect("valid XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("width"), None, "the page sizes it");
    assert_eq!(root.attribute("viewBox"), Some("0 0 960 400"));
    assert_eq!(root.attribute("class"), Some("chart"));
    assert_eq!(
        root.attribute("aria-labelledby"),
        Some("chart-title chart-desc")
    );
    assert!(
        with_class(&doc, "legend").is_empty(),
        "the page gives the key"
    );
    assert!(!page.contains(">sub</text>"));
}

#[test]
fn kept_points_link_with_their_title_inside_the_link() {
    let series = Made::new(run(30)).linked();
    let svg = chart(Frame::Page).svg(&series);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let kept = with_class(&doc, "kept");
    assert_eq!(kept.len(), 4, "the baseline and three steps");
    for node in kept {
        let link = node.first_element_child().expect("a link");
        assert!(link.has_tag_name("a"));
        assert_eq!(link.attribute("class"), Some("pt"));
        assert!(link.attribute("data-seq").is_some());
        let title = link.children().find(|c| c.has_tag_name("title"));
        assert!(title.is_some(), "the tooltip belongs to the link");
    }
    assert!(
        svg.contains(r#"href="/entry?n=30&amp;x=1""#),
        "hrefs are escaped"
    );
    let discarded = with_class(&doc, "discarded");
    assert!(!discarded.is_empty());
    assert!(
        discarded
            .iter()
            .all(|n| n.has_tag_name("g")
                && n.first_element_child().is_some_and(|a| a.has_tag_name("a"))),
        "discarded points link when the series links them"
    );
    let failed = with_class(&doc, "failed");
    assert_eq!(failed.len(), 2, "13 and 26 failed");
    assert!(
        failed
            .iter()
            .all(|n| n.parent_element().is_some_and(|a| a.has_tag_name("a"))),
        "failures link when the series links them"
    );
    let unlinked = chart(Frame::Page).svg(&Made::new(run(30)));
    assert!(
        !unlinked.contains("<a "),
        "nothing links unless the series does"
    );
}

#[test]
fn the_reference_is_drawn_inside_the_scale() {
    let mut chart = chart(Frame::Page);
    chart.reference = Some(Reference {
        text: "entropy floor <0.5>",
        value: 0.5,
    });
    let svg = chart.svg(&Made::new(run(30)));
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let reference = &with_class(&doc, "reference")[0];
    let line = reference
        .children()
        .find(|c| c.has_tag_name("line"))
        .expect("a line");
    let y: f64 = line
        .attribute("y1")
        .and_then(|y| y.parse().ok())
        .expect("y");
    assert!(
        (20.0..=340.0).contains(&y),
        "the floor at {y} is in the plot"
    );
    assert!(svg.contains("entropy floor &lt;0.5&gt;"));
}

#[test]
fn a_page_thins_crowded_points_and_asks_only_for_drawn_titles() {
    let series = Made::new(run(50_000));
    let svg = chart(Frame::Page).svg(&series);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    assert!(with_class(&doc, "discarded").is_empty());
    assert_eq!(with_class(&doc, "dots").len(), 1);
    let failures = with_class(&doc, "failed").len();
    assert!(failures <= 848, "{failures} failures, one per pixel column");
    let kept = with_class(&doc, "kept").len();
    assert!(kept <= 2 + PAGE_LABELS, "{kept} kept dots");
    assert!(
        series.titles.get() == failures + kept,
        "{} titles built",
        series.titles.get()
    );
    assert!(svg.len() < 200_000, "{} bytes", svg.len());

    // A file draws every point.
    let series = Made::new(run(2_000));
    let svg = chart(Frame::File { subtitle: "" }).svg(&series);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let drawn: usize = ["kept", "discarded", "failed"]
        .iter()
        .map(|c| with_class(&doc, c).len())
        .sum();
    assert_eq!(drawn, 2_001);
}

#[test]
fn named_points_are_the_drawn_and_labellable_kept_points() {
    let few = run(100);
    let kept: Vec<usize> = (0..few.len()).filter(|&i| few[i].kept).collect();
    assert_eq!(Frame::Page.named_points(&few), kept);
    let many = run(10 * (MAX_KEPT_DOTS as u64 + 50));
    let named = Frame::Page.named_points(&many);
    assert!(named.len() <= PAGE_LABELS * 4 + 2, "{} named", named.len());
    assert_eq!(named.first(), Some(&0), "the baseline");
    let last = many.iter().rposition(|p| p.kept);
    assert_eq!(named.last().copied(), last);
    assert!(Frame::File { subtitle: "" }.named_points(&many).len() > MAX_KEPT_DOTS);
}

#[test]
fn labels_go_to_the_baseline_and_the_biggest_gains_first() {
    let points = vec![
        kept(0, 1.0, None),
        kept(1, 0.9, Some(0.1)),
        kept(2, 0.5, Some(0.4)),
        kept(3, 0.4, Some(0.1)),
        discarded(4, 0.6),
    ];
    assert_eq!(label::candidates(&points), vec![0, 2, 1, 3]);
}

#[test]
fn labels_never_overlap_and_flip_left_at_the_right_edge() {
    // Kept points a few pixels apart, all with the same gain: in x order, each label that
    // would cover the one before is left out.
    let mut points: Vec<Point> = (0..200)
        .map(|x| kept(x, 1.0 - x as f64 * 1e-3, Some(1e-3)))
        .collect();
    points[0].gain = None;
    for goal in [Goal::Minimize, Goal::Maximize] {
        let series = Made::new(points.clone());
        let mut chart = chart(Frame::File { subtitle: "" });
        chart.goal = goal;
        let plot = Plot::new(&chart, &series.points);
        let labels = label::place(&plot, &series, goal, FILE_LABELS);
        assert!(labels.len() > 1 && labels.len() <= FILE_LABELS);
        let last = labels.last().map_or(0, |l| l.index);
        assert!(
            last >= 2 * labels.len(),
            "crowded labels are skipped, up to {last}"
        );
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(!a.overlaps(b), "labels {} and {} overlap", a.index, b.index);
            }
        }
    }
    // The last point sits at the right edge, with room below it down to a floor: its label
    // reads towards it from the left.
    let series = Made::new(vec![kept(0, 1.0, None), kept(100, 0.5, Some(0.5))]);
    let mut chart = chart(Frame::Page);
    chart.reference = Some(Reference {
        text: "floor",
        value: 0.0,
    });
    let svg = chart.svg(&series);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let last = doc
        .descendants()
        .find(|n| n.text() == Some("change 100"))
        .unwrap_or_else(|| panic!("the last point is labelled in full: {svg}"));
    assert_eq!(last.attribute("text-anchor"), Some("end"));
}

#[test]
fn an_empty_chart_says_so_in_its_noun() {
    let svg = chart(Frame::Page).svg(&Made::new(vec![]));
    assert!(svg.contains("no verifications yet"), "{svg}");
    let svg = chart(Frame::Page).svg(&Made::new(vec![failed(1)]));
    assert!(svg.contains("no verification has a metric yet"), "{svg}");
    roxmltree::Document::parse(&svg).expect("valid XML");
}

#[test]
fn sparklines_step_through_their_values() {
    assert_eq!(sparkline(&[1.0]), "");
    let spark = sparkline(&[3.0, 2.0, 1.0]);
    let doc = roxmltree::Document::parse(&spark).expect("valid XML");
    let d = doc
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .and_then(|n| n.attribute("d"))
        .expect("a path");
    assert_eq!(d, "M2.0 3.0H80.0V18.0H158.0V33.0");
}
