//! The map of NRW's 53 Kreise, StädteRegion and kreisfreie Städte, drawn as
//! server-rendered SVG.
//!
//! No boundary data of a suitable licence comes with the package registries,
//! so the areas are approximate: each municipality gets the Voronoi cell of its
//! coordinates (Destatis Gemeindeverzeichnis, `node/data/seats.csv`), cut off
//! [`REACH_KM`] from its point, and a Kreis is the union of its municipalities'
//! cells. Borders are drawn where two cells of different Kreise meet and where a
//! cell ends at its reach (the Land's edge). The README says so.
//!
//! The cells are computed once: 396 convex polygons, each a disc cut by the
//! half-planes nearer its point than a neighbour's. No Voronoi crate is used
//! because a crate's cells would still need this cut to a disc, and the cut is
//! all the computation there is.

use kx_protocol::geo;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// How far a cell reaches from its municipality's point at most.
const REACH_KM: f64 = 14.0;
/// Vertices of the disc a cell starts from.
const DISC: usize = 28;
/// SVG units per km.
const SCALE: f64 = 2.6;
/// Margin around the drawing, in SVG units.
const MARGIN: f64 = 6.0;

/// A point in km (x east, y south) from the map's north-west corner.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pt {
    x: f64,
    y: f64,
}

/// Which cell (by municipality index) an edge borders; `None`: the reach.
type Side = Option<usize>;

/// A cell: vertices in order, and for each the side of the edge that starts at it.
type Cell = Vec<(Pt, Side)>;

/// The geometry, computed once.
pub(crate) struct Geometry {
    pub width: f64,
    pub height: f64,
    /// Per Kreis (in AGS order, as `geo::municipalities` groups them): its AGS,
    /// its cells as one SVG path, and a point for its label.
    pub areas: Vec<(String, String, (f64, f64))>,
    /// Every border between Kreise and along the Land's edge, as one path.
    pub borders: String,
}

fn seats() -> Vec<Pt> {
    let text = include_str!("../../data/seats.csv");
    let coords: Vec<(f64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            let _ags = f.next()?;
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect();
    let north = coords.iter().map(|c| c.0).fold(f64::MIN, f64::max);
    let west = coords.iter().map(|c| c.1).fold(f64::MAX, f64::min);
    let mid = coords.iter().map(|c| c.0).sum::<f64>() / coords.len().max(1) as f64;
    let km_lon = 111.32 * mid.to_radians().cos();
    coords
        .iter()
        .map(|(lat, lon)| Pt {
            x: (lon - west) * km_lon + REACH_KM,
            y: (north - lat) * 110.57 + REACH_KM,
        })
        .collect()
}

/// Keeps the part of `cell` nearer to `a` than to `b` (the half-plane of the
/// bisector), labelling the new edge with `side`.
fn cut(cell: &Cell, a: Pt, b: Pt, side: Side) -> Cell {
    let (nx, ny) = (b.x - a.x, b.y - a.y);
    let limit = (b.x * b.x + b.y * b.y - a.x * a.x - a.y * a.y) / 2.0;
    let inside = |p: Pt| p.x * nx + p.y * ny <= limit;
    let cross = |p: Pt, q: Pt| {
        let (fp, fq) = (p.x * nx + p.y * ny - limit, q.x * nx + q.y * ny - limit);
        let t = fp / (fp - fq);
        Pt {
            x: p.x + t * (q.x - p.x),
            y: p.y + t * (q.y - p.y),
        }
    };
    let mut out = Vec::with_capacity(cell.len() + 1);
    for (k, &(p, e)) in cell.iter().enumerate() {
        let q = cell[(k + 1) % cell.len()].0;
        match (inside(p), inside(q)) {
            (true, true) => out.push((p, e)),
            (true, false) => {
                out.push((p, e));
                out.push((cross(p, q), side));
            }
            (false, true) => out.push((cross(p, q), e)),
            (false, false) => {}
        }
    }
    out
}

fn cells(points: &[Pt]) -> Vec<Cell> {
    points
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let mut cell: Cell = (0..DISC)
                .map(|k| {
                    let phi = std::f64::consts::TAU * k as f64 / DISC as f64;
                    let p = Pt {
                        x: a.x + REACH_KM * phi.cos(),
                        y: a.y + REACH_KM * phi.sin(),
                    };
                    (p, None)
                })
                .collect();
            for (j, &b) in points.iter().enumerate() {
                let d2 = (b.x - a.x).powi(2) + (b.y - a.y).powi(2);
                if j != i && d2 < (2.0 * REACH_KM).powi(2) && !cell.is_empty() {
                    cell = cut(&cell, a, b, Some(j));
                }
            }
            cell
        })
        .collect()
}

fn at(p: Pt) -> (f64, f64) {
    (MARGIN + p.x * SCALE, MARGIN + p.y * SCALE)
}

/// The map's geometry.
pub(crate) fn geometry() -> &'static Geometry {
    static G: OnceLock<Geometry> = OnceLock::new();
    G.get_or_init(|| {
        let points = seats();
        let all = geo::municipalities();
        let cells = if points.len() == all.len() {
            cells(&points)
        } else {
            Vec::new()
        };
        let kreis = |i: usize| all[i].kreis_ags.as_str();
        let mut areas: Vec<(String, String, (f64, f64))> = Vec::new();
        let mut sums: Vec<(f64, f64, f64)> = Vec::new();
        let mut borders = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if areas.last().is_none_or(|(a, _, _)| a != kreis(i)) {
                areas.push((kreis(i).to_owned(), String::new(), (0.0, 0.0)));
                sums.push((0.0, 0.0, 0.0));
            }
            let Some((_, d, _)) = areas.last_mut() else {
                continue;
            };
            for (k, (p, _)) in cell.iter().enumerate() {
                let (x, y) = at(*p);
                let _ = write!(d, "{}{x:.1},{y:.1}", if k == 0 { "M" } else { "L" });
            }
            d.push('Z');
            // Label at the population-weighted mean of the points.
            let w = (all[i].population as f64).max(1.0);
            if let Some(s) = sums.last_mut() {
                s.0 += points[i].x * w;
                s.1 += points[i].y * w;
                s.2 += w;
            }
            for (k, (p, side)) in cell.iter().enumerate() {
                let draw = match side {
                    None => true,
                    Some(j) => *j > i && kreis(*j) != kreis(i),
                };
                if draw {
                    let q = cell[(k + 1) % cell.len()].0;
                    let ((x1, y1), (x2, y2)) = (at(*p), at(q));
                    let _ = write!(borders, "M{x1:.1},{y1:.1}L{x2:.1},{y2:.1}");
                }
            }
        }
        for ((_, _, label), (sx, sy, w)) in areas.iter_mut().zip(&sums) {
            *label = at(Pt {
                x: sx / w,
                y: sy / w,
            });
        }
        let width = points.iter().map(|p| p.x).fold(0.0, f64::max) + REACH_KM;
        let height = points.iter().map(|p| p.y).fold(0.0, f64::max) + REACH_KM;
        Geometry {
            width: 2.0 * MARGIN + width * SCALE,
            height: 2.0 * MARGIN + height * SCALE,
            areas,
            borders,
        }
    })
}

/// The Kfz code of a Kreis or kreisfreie Stadt (its short label on the map).
pub(crate) fn kfz(ags: &str) -> &'static str {
    include_str!("../../data/kfz.csv")
        .lines()
        .skip(1)
        .find_map(|l| l.strip_prefix(ags)?.strip_prefix(','))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kreis_has_an_area_and_every_cell_contains_its_point() {
        let g = geometry();
        assert_eq!(g.areas.len(), 53);
        assert!(g.areas.iter().all(|(_, d, _)| d.starts_with('M')));
        let points = seats();
        for (i, cell) in cells(&points).iter().enumerate() {
            assert!(cell.len() >= 3, "cell {i} is empty");
            // Convex and counter-clockwise in screen order: the point is on
            // the same side of every edge.
            let p = points[i];
            for k in 0..cell.len() {
                let (a, b) = (cell[k].0, cell[(k + 1) % cell.len()].0);
                let side = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
                assert!(side >= -1e-9, "cell {i}: point outside edge {k}");
            }
        }
        assert_eq!(kfz("05774"), "PB");
        assert_eq!(kfz("05111"), "D");
    }
}
