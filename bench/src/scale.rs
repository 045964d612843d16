//! `kx-bench --scale germany`: every figure of the Germany-scale targets, from
//! one node holding the data set of `germany.rs`, a copy of it as a second peer,
//! and a fresh node catching up from both.

use crate::{
    FILTERS, NodeProc, agent, get_json, init_node, percentile, post, rss_kib, run_node, submit_all,
    tmp,
};
use anyhow::{Result, bail};
use kx_protocol::VerifiedRecord;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn ms(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// p50 and p99 (ms) of GETs of `paths`, round robin, `n` in all; any answer
/// but 200 is an error. Bodies are read to the end, not parsed.
pub fn timed(node: &NodeProc, paths: &[String], n: usize) -> Result<(f64, f64)> {
    let a = agent();
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let path = &paths[i % paths.len()];
        let start = Instant::now();
        let mut r = a.get(&format!("{}{path}", node.http)).call()?;
        let body = r.body_mut().with_config().limit(256 << 20).read_to_vec()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if r.status().as_u16() != 200 {
            bail!("{path}: {} {}", r.status(), String::from_utf8_lossy(&body));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((ms(percentile(&times, 0.5)), ms(percentile(&times, 0.99))))
}

/// Bytes of the files under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => disk_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Records a node serves, from `/v1/status`.
pub fn records_of(node: &NodeProc) -> Result<u64> {
    Ok(
        get_json(&agent(), &format!("{}/v1/status", node.http))?["records"]
            .as_u64()
            .unwrap_or(0),
    )
}

/// The searches: the six filter mixes and the municipality page.
fn searches() -> Vec<String> {
    FILTERS
        .iter()
        .map(|f| format!("/v1/offers?limit=20&{f}"))
        .chain(["/v1/municipalities/Paderborn".to_owned()])
        .collect()
}

/// Follows `next_cursor` through `GET /v1/offers?limit=500` for `pages` pages
/// (from the start again at the end); p50 and p99 in ms.
fn large_pages(node: &NodeProc, pages: usize) -> Result<(f64, f64)> {
    let a = agent();
    let mut times = Vec::with_capacity(pages);
    let mut cursor: Option<String> = None;
    for _ in 0..pages {
        let url = match &cursor {
            Some(c) => format!("{}/v1/offers?limit=500&cursor={c}", node.http),
            None => format!("{}/v1/offers?limit=500", node.http),
        };
        let start = Instant::now();
        let v = get_json(&a, &url)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if v.get("offers").is_none() {
            bail!("a 500-row page failed: {v}");
        }
        cursor = v["next_cursor"].as_str().map(str::to_owned);
    }
    times.sort_by(f64::total_cmp);
    Ok((ms(percentile(&times, 0.5)), ms(percentile(&times, 0.99))))
}

/// Every figure on the data set of about `records` records from `seed`;
/// `ceiling` is this run's all-core `verify_strict` rate.
pub fn run(records: usize, seed: u64, ceiling: f64) -> Result<Value> {
    let started = Instant::now();
    let data = crate::germany::germany(records, seed)?;
    let generated_s = started.elapsed().as_secs_f64();
    let all: Vec<&VerifiedRecord> = std::iter::once(&data.genesis)
        .chain(&data.governance)
        .chain(&data.offers)
        .chain(data.exchange.iter().flatten())
        .collect();
    let record_bytes: u64 = all.iter().map(|r| r.canonical_json().len() as u64).sum();
    let count = |k: kx_protocol::body::Kind| all.iter().filter(|r| r.record().kind() == k).count();
    use kx_protocol::body::Kind as K;
    let mix = json!({
        "providers": data.providers.len(),
        "municipalities": data.governance.iter().map(|g| match &g.record().body {
            kx_protocol::Body::MunicipalityAdmit(b) => b.municipalities.len(), _ => 0 }).sum::<usize>(),
        "offers": count(K::Offer), "offer_withdrawals": count(K::OfferWithdraw),
        "demands": count(K::Demand), "requests": count(K::Request),
        "accepted": count(K::RequestAccept), "declined": count(K::RequestDecline),
        "ended": count(K::AgreementEnd), "governance": data.governance.len() + 1,
    });

    // Load: governance one by one, then each phase from 16 clients.
    let base = tmp("germany");
    let dir_a = base.join("a");
    init_node(&dir_a, &data.genesis, &[])?;
    let node = run_node(&dir_a)?;
    let a = agent();
    for g in &data.governance {
        post(&a, &node.http, g)?;
    }
    let load_start = Instant::now();
    let mut rates = vec![submit_all(&node.http, &data.offers, 16)?.round()];
    for phase in &data.exchange {
        rates.push(submit_all(&node.http, phase, 16)?.round());
    }
    let loaded = data.offers.len() + data.exchange.iter().map(Vec::len).sum::<usize>();
    let load_rate = loaded as f64 / load_start.elapsed().as_secs_f64();
    let held = records_of(&node)?;
    if held < all.len() as u64 {
        bail!("the node holds {held} of {} records", all.len());
    }

    // Reads on the loaded node.
    let paths = searches();
    let _ = timed(&node, &paths, paths.len())?; // warm
    let (q50, q99) = timed(&node, &paths, 700)?;
    let mut by_search = serde_json::Map::new();
    for p in &paths {
        by_search.insert(p.clone(), json!(timed(&node, std::slice::from_ref(p), 30)?));
    }
    let municipality: Vec<String> = vec![
        "/v1/municipalities/Paderborn".into(),
        "/v1/municipalities/K%C3%B6ln".into(),
        "/gemeinde/05774032".into(),
    ];
    let (m50, m99) = timed(&node, &municipality, 150)?;
    let transition: Vec<String> = vec!["/v1/transition".into(), "/uebergang".into()];
    let (t50, t99) = timed(&node, &transition, 60)?;
    let rss_loaded = rss_kib(node.child.id());
    let (p50, p99) = large_pages(&node, 200)?;
    let rss_pages = rss_kib(node.child.id());
    let growth = (rss_pages as f64 / rss_loaded.max(1) as f64 - 1.0) * 100.0;

    // The store on disk, then a restart on it; a copy is the second peer.
    let node_pid_dir = node.dir.clone();
    drop(node);
    let disk = disk_bytes(&node_pid_dir.join("db"));
    let dir_b = base.join("b");
    init_node(&dir_b, &data.genesis, &[])?;
    copy_dir(&dir_a.join("db"), &dir_b.join("db"))?;
    let restart = Instant::now();
    let node = run_node(&dir_a)?;
    let restart_s = restart.elapsed().as_secs_f64();
    let _ = timed(&node, &paths, paths.len())?;
    let rss_restarted = rss_kib(node.child.id());
    let peer = run_node(&dir_b)?;

    // A fresh node catches up from both.
    let start = Instant::now();
    let dir_c = base.join("c");
    init_node(&dir_c, &data.genesis, &[&node.listen, &peer.listen])?;
    let fresh = run_node(&dir_c)?;
    // Bounded: a catch-up that stalls is reported (how far it got), so that
    // the other figures of the run are not lost.
    let mut have = 0;
    while have < held && start.elapsed() < Duration::from_secs(600) {
        // See `catch_up`: poll rarely enough not to slow what is measured.
        std::thread::sleep(Duration::from_millis(250));
        have = records_of(&fresh)?;
    }
    let catch_s = start.elapsed().as_secs_f64();
    let catch_rate = have as f64 / catch_s;
    let rss_fresh = rss_kib(fresh.child.id());
    drop((fresh, peer, node));
    // KX_BENCH_KEEP=1 leaves the stores for a profile of a restart.
    if std::env::var_os("KX_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&base);
    } else {
        eprintln!("kept {}", base.display());
    }
    Ok(json!({
        "records": held,
        "mix": mix,
        "generated_s": (generated_s * 10.0).round() / 10.0,
        "record_bytes": record_bytes,
        "load_submits_per_s": load_rate.round(),
        "load_submits_per_s_by_phase": rates,
        "search_p50_ms": q50, "search_p99_ms": q99,
        "search_p50_p99_ms_by_path": by_search,
        "municipality_page_p50_ms": m50, "municipality_page_p99_ms": m99,
        "transition_p50_ms": t50, "transition_p99_ms": t99,
        "page_500_p50_ms": p50, "page_500_p99_ms": p99,
        "node_rss_mib": rss_loaded / 1024,
        "node_rss_mib_after_large_pages": rss_pages / 1024,
        "rss_growth_large_pages_pct": (growth * 10.0).round() / 10.0,
        "store_bytes": disk,
        "store_to_record_bytes": ((disk as f64 / record_bytes as f64) * 100.0).round() / 100.0,
        "restart_s": (restart_s * 10.0).round() / 10.0,
        "node_rss_mib_after_restart": rss_restarted / 1024,
        "catch_up_s": (catch_s * 10.0).round() / 10.0,
        "catch_up_records": have,
        "catch_up_finished": have >= held,
        "catch_up_records_per_s": catch_rate.round(),
        "catch_up_ratio_to_ceiling": (catch_rate / ceiling * 100.0).round() / 100.0,
        "caught_up_node_rss_mib": rss_fresh / 1024,
        "targets": "catch-up ratio >= 0.6; RSS <= 512 MiB after load and restart; restart <= 30 s; search p50 <= 2 / p99 <= 10 ms; municipality page p99 <= 20 ms, transition p99 <= 50 ms; 500-row page p50 <= 4 ms; RSS growth <= 20 %; durable submits >= 5,000/s; store / record bytes <= 2",
    }))
}

/// The figures the growth table and plot show: (label, key in `run`'s result).
const FIGURES: [(&str, &str); 12] = [
    ("durable submits while loading (1/s)", "load_submits_per_s"),
    ("search p50 (ms)", "search_p50_ms"),
    ("search p99 (ms)", "search_p99_ms"),
    ("municipality page p99 (ms)", "municipality_page_p99_ms"),
    ("transition p99 (ms)", "transition_p99_ms"),
    ("500-row page p50 (ms)", "page_500_p50_ms"),
    ("node RSS after load (MiB)", "node_rss_mib"),
    ("node RSS after restart (MiB)", "node_rss_mib_after_restart"),
    ("restart until it serves (s)", "restart_s"),
    ("store on disk / record bytes", "store_to_record_bytes"),
    ("catch-up (records/s)", "catch_up_records_per_s"),
    ("catch-up / verify ceiling", "catch_up_ratio_to_ceiling"),
];

/// A Markdown table: one row per figure, one column per size.
pub fn growth_table(rows: &[Value]) -> String {
    let mut out = String::from("| figure |");
    for r in rows {
        out.push_str(&format!(" {} records |", r["records"]));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(rows.len()));
    for (label, key) in FIGURES {
        out.push_str(&format!("\n| {label} |"));
        for r in rows {
            out.push_str(&format!(" {} |", r[key]));
        }
    }
    out
}

/// Small multiples, one panel per figure, records on a log axis. Written by
/// hand: a few dozen lines of SVG do not need a plotting library in the build.
pub fn growth_svg(rows: &[Value]) -> String {
    let (w, h, cols) = (300.0, 170.0, 3usize);
    let n = FIGURES.len();
    let height = h * n.div_ceil(cols) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        w * cols as f64
    );
    let xs: Vec<f64> = rows
        .iter()
        .map(|r| r["records"].as_f64().unwrap_or(1.0).max(1.0).log10())
        .collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::MAX, f64::min),
        xs.iter().copied().fold(f64::MIN, f64::max),
    );
    for (i, (label, key)) in FIGURES.iter().enumerate() {
        let (ox, oy) = ((i % cols) as f64 * w, (i / cols) as f64 * h);
        let ys: Vec<f64> = rows
            .iter()
            .map(|r| r[*key].as_f64().unwrap_or(0.0))
            .collect();
        let top = ys.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.15;
        let (l, r, t, b) = (ox + 45.0, ox + w - 15.0, oy + 25.0, oy + h - 30.0);
        let px = |x: f64| l + (x - x0) / (x1 - x0).max(1e-9) * (r - l);
        let py = |y: f64| b - y / top * (b - t);
        svg.push_str(&format!(
            "<text x=\"{l}\" y=\"{}\" font-weight=\"bold\">{label}</text>\n\
             <line x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/>\n\
             <line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\" stroke=\"#999\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
             <text x=\"{}\" y=\"{b}\" text-anchor=\"end\">0</text>\n",
            oy + 15.0,
            l - 4.0,
            t + 4.0,
            short(top),
            l - 4.0
        ));
        let points: Vec<String> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\"/>\n",
            points.join(" ")
        ));
        for (x, (y, row)) in xs.iter().zip(ys.iter().zip(rows)) {
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#1f5fa8\"/>\n\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
                 <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n",
                px(*x),
                py(*y),
                px(*x),
                py(*y) - 6.0,
                short(*y),
                px(*x),
                b + 14.0,
                short(row["records"].as_f64().unwrap_or(0.0))
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// 1234567 → "1.2M", 0.4567 → "0.46".
fn short(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
