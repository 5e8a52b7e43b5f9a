//! The marks of a chart: discarded and kept points, failures under the axis, and the running
//! best as a step line; on a page, crowded marks thinned to the plot's resolution. Where the
//! marks go is the [`Plot`]'s; what their titles say is the series'.

use std::fmt::{self, Write};

use super::label::Label;
use super::plot::{Place, Plot};
use super::{
    discarded_value, escape, kept_value, value, Chart, Link, Point, Series, DARK_GREEN, GREEN,
    GREY, MAX_KEPT_DOTS, RED,
};

impl Chart<'_> {
    /// Discarded points one by one, each with its title and link; on a page, when there are more than
    /// the plot has pixel columns, the two extremes of each column as one path of dots.
    pub(super) fn render_discarded(
        &self,
        plot: &Plot,
        series: &impl Series,
        out: &mut String,
    ) -> fmt::Result {
        let points = series.points();
        let count = points.iter().filter_map(discarded_value).count();
        writeln!(out, r#"<g fill="{GREY}" fill-opacity="0.6">"#)?;
        if self.frame.thin() && count > plot.columns() {
            render_dots(plot, points, out)?;
        } else {
            for (i, p) in points.iter().enumerate() {
                if discarded_value(p).is_some() {
                    marker(plot, out, p, &series.title(i), series.link(i).as_ref())?;
                }
            }
        }
        writeln!(out, "</g>")
    }

    /// The running best: a step at each kept point, then flat to the last point. Steps within
    /// half a pixel of each other merge; the line looks the same.
    pub(super) fn render_best_line(
        &self,
        plot: &Plot,
        points: &[Point],
        out: &mut String,
    ) -> fmt::Result {
        let Some(y) = &plot.y else {
            return Ok(());
        };
        let mut kept = points
            .iter()
            .filter_map(|p| Some((plot.x.px(p.x as f64), kept_value(p)?)));
        let Some((mut px, mut best)) = kept.next() else {
            return Ok(());
        };
        let y_of = |v: f64| y.px(v).clamp(plot.top, plot.bottom);
        let mut drawn = y_of(best);
        let mut level = drawn;
        let mut d = format!("M{px:.1} {drawn:.1}");
        for (nx, v) in kept {
            best = self.goal.better(best, v);
            if nx - px >= 0.5 {
                if level != drawn {
                    write!(d, "V{level:.1}")?;
                }
                px = nx;
                drawn = y_of(best);
                write!(d, "H{px:.1}V{drawn:.1}")?;
            }
            level = y_of(best);
        }
        if level != drawn {
            write!(d, "V{level:.1}")?;
        }
        let last = points.iter().map(|p| p.x).max().unwrap_or(0);
        write!(d, "H{:.1}", plot.x.px(last as f64))?;
        writeln!(
            out,
            r#"<path class="step" d="{d}" fill="none" stroke="{GREEN}" stroke-width="2" stroke-opacity="0.8" stroke-linejoin="round"/>"#
        )
    }

    /// Kept points, linked when the series links them; on a page past [`MAX_KEPT_DOTS`] only
    /// the first, the last and the labelled, as the step line already shows the rest.
    pub(super) fn render_kept(
        &self,
        plot: &Plot,
        series: &impl Series,
        labels: &[Label],
        out: &mut String,
    ) -> fmt::Result {
        let points = series.points();
        let kept: Vec<usize> = (0..points.len())
            .filter(|&i| kept_value(&points[i]).is_some())
            .collect();
        let all = !self.frame.thin() || kept.len() <= MAX_KEPT_DOTS;
        writeln!(
            out,
            r#"<g fill="{GREEN}" stroke="{DARK_GREEN}" stroke-width="1">"#
        )?;
        for (k, &i) in kept.iter().enumerate() {
            let labelled = labels.binary_search_by_key(&i, |l| l.index).is_ok();
            if !all && k != 0 && k != kept.len() - 1 && !labelled {
                continue;
            }
            let link = series.link(i);
            marker(plot, out, &points[i], &series.title(i), link.as_ref())?;
        }
        writeln!(out, "</g>")
    }

    /// Failures as crosses under the axis, linked when the series links them; on a page, one
    /// per pixel column.
    pub(super) fn render_failed(
        &self,
        plot: &Plot,
        series: &impl Series,
        out: &mut String,
    ) -> fmt::Result {
        let y = plot.bottom + 12.0;
        let mut last_px = f64::NEG_INFINITY;
        writeln!(out, r#"<g fill="none" stroke="{RED}" stroke-width="1.6">"#)?;
        for (i, p) in series.points().iter().enumerate() {
            if value(p).is_some() {
                continue;
            }
            let px = plot.x.px(p.x as f64);
            if self.frame.thin() && px - last_px < 1.0 {
                continue;
            }
            last_px = px;
            let cross = format!(
                r#"class="failed" d="M{:.1} {:.1}l7 7m0 -7l-7 7""#,
                px - 3.5,
                y - 3.5
            );
            let title = escape(&series.title(i));
            // As with the other markers, a linked cross's tooltip belongs to its link.
            match series.link(i) {
                None => writeln!(out, "<path {cross}><title>{title}</title></path>")?,
                Some(link) => writeln!(
                    out,
                    r#"<a href="{}" class="pt" data-seq="{}"><path {cross}/><title>{title}</title></a>"#,
                    escape(&link.href),
                    link.seq
                )?,
            }
        }
        writeln!(out, "</g>")
    }
}

/// The crowded discarded points as dots, the lowest and highest of each pixel column; a value
/// beyond the axis is a dot on its edge.
fn render_dots(plot: &Plot, points: &[Point], out: &mut String) -> fmt::Result {
    let Some(y) = &plot.y else {
        return Ok(());
    };
    let py = |v: f64| y.px(v).clamp(plot.top, plot.bottom);
    let mut d = String::with_capacity(plot.columns() * 28);
    let mut dots = |column: i64, lo: f64, hi: f64| {
        let x = column as f64 + 0.5;
        let _ = write!(d, "M{x:.1} {:.1}h0", py(lo));
        if hi > lo {
            let _ = write!(d, "M{x:.1} {:.1}h0", py(hi));
        }
    };
    let mut column: Option<(i64, f64, f64)> = None;
    for p in points {
        let Some(v) = discarded_value(p) else {
            continue;
        };
        let c = plot.x.px(p.x as f64).floor() as i64;
        column = match column {
            Some((cc, lo, hi)) if cc == c => Some((c, lo.min(v), hi.max(v))),
            Some((cc, lo, hi)) => {
                dots(cc, lo, hi);
                Some((c, v, v))
            }
            None => Some((c, v, v)),
        };
    }
    if let Some((c, lo, hi)) = column {
        dots(c, lo, hi);
    }
    writeln!(
        out,
        r#"<path class="dots" d="{d}" fill="none" stroke="{GREY}" stroke-opacity="0.6" stroke-width="5" stroke-linecap="round"/>"#
    )
}

/// A kept or discarded point: a dot inside the plot, a triangle at the edge beyond it.
/// With a link, the marker and its title are the link, in a group that carries the class.
fn marker(
    plot: &Plot,
    out: &mut String,
    point: &Point,
    title: &str,
    link: Option<&Link>,
) -> fmt::Result {
    let (class, r) = if point.kept {
        ("kept", 5.5)
    } else {
        ("discarded", 3.0)
    };
    let px = plot.x.px(point.x as f64);
    let place = plot.place(value(point).expect("a marker has a value"));
    let (tag, clamped, note) = match place {
        Place::Inside(_) => ("circle", "", ""),
        _ => ("path", " clamped", " (beyond the axis)"),
    };
    match link {
        None => write!(out, r#"<{tag} class="{class}{clamped}" "#)?,
        Some(link) => write!(
            out,
            r#"<g class="{class}{clamped}"><a href="{}" class="pt" data-seq="{}"><{tag} "#,
            escape(&link.href),
            link.seq
        )?,
    }
    match place {
        Place::Inside(py) => write!(out, r#"cx="{px:.1}" cy="{py:.1}" r="{r}""#)?,
        // The tip points outwards, at the edge the value lies beyond.
        Place::Above => write!(out, r#"d="M{px:.1} {}l4 7h-8z""#, plot.top)?,
        Place::Below => write!(out, r#"d="M{px:.1} {}l4 -7h-8z""#, plot.bottom)?,
    }
    let title = escape(title);
    match link {
        None => writeln!(out, "><title>{title}{note}</title></{tag}>"),
        Some(_) => writeln!(out, "/><title>{title}{note}</title></a></g>"),
    }
}
