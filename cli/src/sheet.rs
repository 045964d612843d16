//! A portfolio as a spreadsheet: `kx offer publish` of a CSV or XLSX sheet (one
//! row per offer) and `kx offer export`, which writes the same columns.
//!
//! Every row is read and checked by the protocol's own rules before anything is
//! signed; each problem is reported with its row and column. Rows whose offer
//! is unchanged on the node are skipped; the others are signed as consecutive
//! records of one log and submitted in order. The columns are listed in
//! [`COLUMNS`] and documented in `examples/offers.csv` and the README.

use crate::args::OutArgs;
use crate::client::Client;
use crate::error::Refused;
use crate::offline::{now, write_new};
use crate::publish::writer;
use crate::secret::read_key;
use anyhow::{Context, Result, bail};
use kx_api::SearchQuery;
use kx_api::views::OfferView;
use kx_protocol::body::{Kind, OfferBody};
use kx_protocol::registry::OfferStatus;
use kx_protocol::{Body, Did, RecordCode, RecordError, VerifiedRecord};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// How a column's cells are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// Text; an empty cell is an error.
    Text,
    /// Text; an empty cell is the empty text.
    TextOrEmpty,
    /// Text; an empty cell leaves the member out.
    OptionalText,
    /// A whole number ≥ 0.
    Count,
    OptionalCount,
    /// Entries separated by commas, semicolons or spaces.
    List,
    /// Like `List`, an empty cell leaves the member out.
    OptionalList,
    /// AGS prefixes: a `List` whose number cells get back their leading zero.
    Regions,
    /// A date (`2026-01-31`, the start of that day in UTC) or a UTC time.
    Time,
    OptionalTime,
    /// One entry per line, its fields separated by `|`.
    Lines,
    OptionalLines,
}

/// A column: its header and where its value goes in the offer body.
struct Column {
    name: &'static str,
    /// The member, or `object.member` for `sla`, `pricing` and `legal_basis`.
    member: &'static str,
    cell: Cell,
}

const fn col(name: &'static str, member: &'static str, cell: Cell) -> Column {
    Column { name, member, cell }
}

/// The columns of a portfolio sheet, in the order `kx offer export` writes them.
/// `version` is read but never written: without it, a changed offer gets the
/// next version after the node's.
const COLUMNS: &[Column] = &[
    col("offer_id", "offer_id", Cell::Text),
    col("version", "version", Cell::OptionalCount),
    col("title", "title", Cell::Text),
    col("summary", "summary", Cell::TextOrEmpty),
    col("description", "description", Cell::TextOrEmpty),
    col("category", "category", Cell::Text),
    col("delivery", "delivery", Cell::Text),
    col("regions", "regions", Cell::Regions),
    col("ozg_ids", "ozg_ids", Cell::List),
    col("leika_keys", "leika_keys", Cell::List),
    col("capacity", "capacity", Cell::Count),
    col("break_even", "break_even", Cell::OptionalCount),
    col("valid_from", "valid_from", Cell::Time),
    col("valid_until", "valid_until", Cell::OptionalTime),
    col("availability_bp", "sla.availability_bp", Cell::Count),
    col("support_hours", "sla.support_hours", Cell::Text),
    col("response_minutes", "sla.response_minutes", Cell::Count),
    col("resolution_hours", "sla.resolution_hours", Cell::Count),
    col("pricing_model", "pricing.model", Cell::Text),
    col("amount_cents", "pricing.amount_cents", Cell::Count),
    col("currency", "pricing.currency", Cell::Text),
    col("pricing_notes", "pricing.notes", Cell::TextOrEmpty),
    col("price_components", "price_components", Cell::OptionalLines),
    col("certifications", "certifications", Cell::List),
    col("standards", "standards", Cell::List),
    col("conforms_to", "conforms_to", Cell::OptionalList),
    col("legal_basis_kind", "legal_basis.kind", Cell::OptionalText),
    col("legal_basis_text", "legal_basis.text", Cell::OptionalText),
    col("contacts", "contacts", Cell::Lines),
];

/// The fields of one line of `price_components` and of `contacts`, in order.
const COMPONENT_FIELDS: &[&str] = &["label", "charge", "unit", "amount_cents", "optional"];
const CONTACT_FIELDS: &[&str] = &["customer_group", "name", "email", "phone", "regions"];

/// A cell as read from the file.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Empty,
    Text(String),
    Number(f64),
    /// A date cell of a workbook: (year, month, day, hour, minute, second).
    Date(u16, u8, u8, u8, u8, u8),
}

/// A sheet as read: the header and the rows, each with its row number in the
/// file (the header is row 1).
struct Sheet {
    header: Vec<String>,
    rows: Vec<(usize, Vec<Raw>)>,
}

fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["xlsx", "xlsm", "xls", "ods"].contains(&e.to_ascii_lowercase().as_str()))
}

/// True if `path` is a sheet (CSV or workbook) rather than one offer in TOML.
pub fn is_sheet(path: &Path) -> bool {
    is_xlsx(path)
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

fn read_sheet(path: &Path) -> Result<Sheet> {
    let mut rows: Vec<Vec<Raw>> = if is_xlsx(path) {
        read_workbook(path)?
    } else {
        read_csv(path)?
    };
    if rows.is_empty() {
        bail!("{} is empty: it needs a header row", path.display());
    }
    let header = rows
        .remove(0)
        .into_iter()
        .map(|c| match c {
            Raw::Text(s) => s.trim().to_owned(),
            Raw::Empty => String::new(),
            other => format!("{other:?}"),
        })
        .collect();
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .filter(|(_, r)| r.iter().any(|c| *c != Raw::Empty))
        .collect();
    Ok(Sheet { header, rows })
}

fn read_csv(path: &Path) -> Result<Vec<Vec<Raw>>> {
    let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    // A sheet saved by a spreadsheet program may start with a byte-order mark.
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&text);
    let delimiter = sniff_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("{} row {}: not CSV", path.display(), i + 1))?;
        rows.push(
            rec.iter()
                .map(|s| {
                    let s = s.trim();
                    if s.is_empty() {
                        Raw::Empty
                    } else {
                        Raw::Text(s.to_owned())
                    }
                })
                .collect(),
        );
    }
    Ok(rows)
}

/// Spreadsheet programs set to German write CSV with `;`: the header line
/// decides (it holds no commas or semicolons of its own).
fn sniff_delimiter(text: &[u8]) -> u8 {
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |d: u8| first.iter().filter(|b| **b == d).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

fn read_workbook(path: &Path) -> Result<Vec<Vec<Raw>>> {
    use calamine::{Data, Reader};
    let mut book = calamine::open_workbook_auto(path)
        .with_context(|| format!("{} is not a readable workbook", path.display()))?;
    let range = book
        .worksheet_range_at(0)
        .with_context(|| format!("{} has no sheet", path.display()))?
        .with_context(|| format!("read the first sheet of {}", path.display()))?;
    // Rows and columns before the used range are empty.
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut rows: Vec<Vec<Raw>> = vec![Vec::new(); top as usize];
    for row in range.rows() {
        let mut cells = vec![Raw::Empty; left as usize];
        for c in row {
            cells.push(match c {
                Data::Empty => Raw::Empty,
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                    let s = s.trim();
                    if s.is_empty() {
                        Raw::Empty
                    } else {
                        Raw::Text(s.to_owned())
                    }
                }
                Data::Int(i) => Raw::Number(*i as f64),
                Data::Float(f) => Raw::Number(*f),
                Data::Bool(b) => Raw::Text(b.to_string()),
                Data::DateTime(d) => {
                    let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                    Raw::Date(y, mo, da, h, mi, s)
                }
                Data::Error(e) => Raw::Text(format!("#{e:?}")),
            });
        }
        rows.push(cells);
    }
    Ok(rows)
}

/// One problem of the sheet, at a row and column.
struct Problem {
    row: usize,
    column: String,
    message: String,
}

/// The spreadsheet name of the 0-based column `i` (A, B, ..., Z, AA, ...).
fn letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// A cell as text: numbers as written without a fraction when whole.
fn text_of(v: &Raw) -> Option<String> {
    match v {
        Raw::Empty => None,
        Raw::Text(s) => Some(s.clone()),
        Raw::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
        Raw::Number(n) => Some(n.to_string()),
        Raw::Date(y, mo, d, h, mi, s) => Some(time_text(*y, *mo, *d, *h, *mi, *s)),
    }
}

fn time_text(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> String {
    if (h, mi, s) == (0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([',', ';', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A number cell that lost the leading zero of an AGS prefix (05158 shown as
/// 5158) gets it back: prefixes have 2, 3, 5 or 8 digits, and these lengths
/// are what the missing zero leaves.
fn ags_digits(n: f64) -> Option<String> {
    let s = format!("{}", n as i64);
    (n.fract() == 0.0 && n >= 0.0).then(|| match s.len() {
        1 | 4 | 7 => format!("0{s}"),
        _ => s,
    })
}

fn count_of(v: &Raw) -> Result<u64, String> {
    match v {
        Raw::Number(n) if n.fract() == 0.0 && *n >= 0.0 && *n < 9.0e15 => Ok(*n as u64),
        Raw::Number(n) => Err(format!(
            "{n} is not a whole number ≥ 0 (money in cents, percentages in basis points)"
        )),
        _ => {
            let s = text_of(v).unwrap_or_default();
            s.parse::<u64>().map_err(|_| {
                format!(
                    "{s:?} is not a whole number ≥ 0 (money in cents, percentages in basis points)"
                )
            })
        }
    }
}

fn time_of(v: &Raw) -> Result<String, String> {
    let s = text_of(v).unwrap_or_default();
    let b = s.as_bytes();
    if s.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        Ok(format!("{s}T00:00:00Z"))
    } else if s.ends_with('Z') {
        Ok(s)
    } else {
        Err(format!(
            "{s:?}: give a date (2026-01-31) or a UTC time (2026-01-31T12:00:00Z)"
        ))
    }
}

/// The entries of a `Lines` cell, each an object of `fields`.
fn lines_of(s: &str, fields: &[&str]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, line) in s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        if parts.len() > fields.len() {
            return Err(format!(
                "line {}: {} fields; at most {} ({})",
                i + 1,
                parts.len(),
                fields.len(),
                fields.join(" | ")
            ));
        }
        let mut m = Map::new();
        for (name, part) in fields.iter().zip(&parts) {
            let value = match *name {
                "amount_cents" => json!(part.parse::<u64>().map_err(|_| format!(
                    "line {}: amount_cents {part:?} is not a whole number of cents",
                    i + 1
                ))?),
                "optional" => match *part {
                    "" | "required" | "no" | "false" => json!(false),
                    "optional" | "yes" | "true" => json!(true),
                    other => {
                        return Err(format!(
                            "line {}: {other:?}: write `optional` or leave the field out",
                            i + 1
                        ));
                    }
                },
                "regions" if part.is_empty() => continue,
                "regions" => json!(split_list(part)),
                "email" | "phone" if part.is_empty() => continue,
                _ => json!(part),
            };
            m.insert((*name).to_owned(), value);
        }
        if fields == COMPONENT_FIELDS && !m.contains_key("optional") {
            m.insert("optional".into(), json!(false));
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

/// Reads the cell of column `c` into the JSON of the body, or says why not.
fn cell_value(c: &Column, v: &Raw) -> Result<Option<Value>, String> {
    use Cell::*;
    if *v == Raw::Empty {
        return match c.cell {
            Text | Count | Time | Regions => Err("empty; a value is required".into()),
            TextOrEmpty => Ok(Some(json!(""))),
            List | Lines => Ok(Some(json!([]))),
            OptionalText | OptionalCount | OptionalList | OptionalTime | OptionalLines => Ok(None),
        };
    }
    let text = text_of(v).unwrap_or_default();
    Ok(Some(match c.cell {
        Text | TextOrEmpty | OptionalText => json!(text),
        Count | OptionalCount => json!(count_of(v)?),
        List | OptionalList => json!(split_list(&text)),
        Regions => match v {
            Raw::Number(n) => json!([ags_digits(*n).ok_or("not an AGS prefix")?]),
            _ => json!(split_list(&text)),
        },
        Time | OptionalTime => json!(time_of(v)?),
        Lines | OptionalLines => {
            let fields = if c.name == "contacts" {
                CONTACT_FIELDS
            } else {
                COMPONENT_FIELDS
            };
            json!(lines_of(&text, fields)?)
        }
    }))
}

/// The column a body path (`body.sla.availability_bp`, `body.regions[2]`) of a
/// protocol error belongs to.
fn column_of_path(path: &str) -> Option<&'static Column> {
    let p = path.strip_prefix("body.")?;
    COLUMNS.iter().find(|c| {
        let m = c.member;
        p == m
            || p.strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
    })
}

/// A row read into a checked offer body; `version` is the row's own, if it
/// gives one (the body holds a stand-in until the plan sets it).
struct Row {
    line: usize,
    offer_id: String,
    version: Option<u64>,
    body: OfferBody,
}

/// Reads every row; returns the rows or every problem found.
fn read_rows(sheet: &Sheet) -> Result<Vec<Row>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in sheet.header.iter().enumerate() {
        let h = h.as_str();
        if h.is_empty() {
            continue;
        }
        if !COLUMNS.iter().any(|c| c.name == h) {
            problems.push(Problem {
                row: 1,
                column: format!("{} ({h})", letter(i)),
                message: format!(
                    "unknown column; the columns are {}",
                    COLUMNS
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        } else if index.insert(h, i).is_some() {
            problems.push(Problem {
                row: 1,
                column: format!("{} ({h})", letter(i)),
                message: "the column appears twice".into(),
            });
        }
    }
    for c in COLUMNS {
        let required = matches!(
            c.cell,
            Cell::Text | Cell::Count | Cell::Time | Cell::Regions
        );
        if required && !index.contains_key(c.name) {
            problems.push(Problem {
                row: 1,
                column: c.name.into(),
                message: "a required column is missing".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, cells) in &sheet.rows {
        let mut body = Map::new();
        let mut ok = true;
        for c in COLUMNS {
            let Some(&i) = index.get(c.name) else {
                continue;
            };
            let v = cells.get(i).cloned().unwrap_or(Raw::Empty);
            match cell_value(c, &v) {
                Ok(None) => {}
                Ok(Some(value)) => match c.member.split_once('.') {
                    Some((object, member)) => {
                        let o = body.entry(object).or_insert_with(|| json!({}));
                        if let Value::Object(o) = o {
                            o.insert(member.into(), value);
                        }
                    }
                    None => {
                        body.insert(c.member.into(), value);
                    }
                },
                Err(message) => {
                    ok = false;
                    problems.push(Problem {
                        row: *line,
                        column: format!("{} ({})", letter(i), c.name),
                        message,
                    });
                }
            }
        }
        if !ok {
            continue;
        }
        let offer_id = body
            .get("offer_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(first) = seen.insert(offer_id.clone(), *line) {
            problems.push(Problem {
                row: *line,
                column: format!("{} (offer_id)", letter(index["offer_id"])),
                message: format!("offer {offer_id} is already in row {first}"),
            });
            continue;
        }
        // The protocol's checks, with a stand-in version when the row has none.
        let version = body.get("version").and_then(Value::as_u64);
        body.entry("version").or_insert(json!(1));
        let checked = match Body::from_json(Kind::Offer, Value::Object(body)) {
            Ok(Body::Offer(b)) => *b,
            Ok(_) => continue,
            Err(e) => {
                let column = match &e {
                    RecordError::Field { path, .. } => column_of_path(path)
                        .map(|c| match index.get(c.name) {
                            Some(i) => format!("{} ({})", letter(*i), c.name),
                            None => c.name.to_owned(),
                        })
                        .unwrap_or_else(|| path.clone()),
                    _ => "-".into(),
                };
                problems.push(Problem {
                    row: *line,
                    column,
                    message: format!("{}: {e}", e.code()),
                });
                continue;
            }
        };
        rows.push(Row {
            line: *line,
            offer_id,
            version,
            body: checked,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Every offer of `provider` on the node (withdrawn, expired and not yet valid
/// included), by offer id.
fn portfolio(client: &Client, provider: &Did) -> Result<BTreeMap<String, OfferView>> {
    let mut q = SearchQuery::new(kx_api::Filters::default());
    q.filters.provider = Some(provider.clone());
    q.filters.include = vec![
        OfferStatus::Active,
        OfferStatus::Withdrawn,
        OfferStatus::Expired,
        OfferStatus::NotYetValid,
        OfferStatus::Consolidated,
    ];
    q.limit = SearchQuery::MAX_LIMIT;
    let mut out = BTreeMap::new();
    loop {
        let page = client.search(&q)?;
        for o in page.offers {
            // Offers shown under this provider after a merger are not its own.
            if &o.provider.did == provider {
                out.insert(o.offer_id.as_str().to_owned(), o);
            }
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// What publishing a row does.
enum Plan {
    Unchanged(u64),
    Publish(Box<Body>),
}

fn plan(row: &Row, current: Option<&OfferView>) -> Result<Plan, String> {
    let given = row.version;
    // The row's body is checked; a version ≥ 1 keeps it so.
    let with_version = |version: u64| {
        Box::new(Body::Offer(Box::new(OfferBody {
            version,
            ..row.body.clone()
        })))
    };
    let Some(cur) = current else {
        return Ok(Plan::Publish(with_version(given.unwrap_or(1))));
    };
    let same = OfferBody {
        version: cur.version,
        ..row.body.clone()
    } == cur.body;
    let shown = cur.status != OfferStatus::Withdrawn && cur.status != OfferStatus::Consolidated;
    if same && shown && given.is_none_or(|g| g == cur.version) {
        return Ok(Plan::Unchanged(cur.version));
    }
    match given {
        Some(g) if g <= cur.version => Err(format!(
            "version {g} is not after the node's current version {} (leave version empty to publish the next one)",
            cur.version
        )),
        Some(g) => Ok(Plan::Publish(with_version(g))),
        None => Ok(Plan::Publish(with_version(cur.version + 1))),
    }
}

fn report(problems: &[Problem], path: &Path) -> anyhow::Error {
    let mut text = format!(
        "{} has {} problem(s); nothing was signed:",
        path.display(),
        problems.len()
    );
    for p in problems {
        let _ = write!(
            text,
            "\n  row {}, column {}: {}",
            p.row, p.column, p.message
        );
    }
    Refused::new(RecordCode::InvalidValue, text).into()
}

/// `kx offer publish --key K SHEET`: checks every row, then signs the changed
/// offers as one batch and submits them in order (or writes them, one per line,
/// to `--out`).
pub fn publish(client: &Client, key: &Path, path: &Path, out: OutArgs, json: bool) -> Result<()> {
    let sheet = read_sheet(path)?;
    let rows = read_rows(&sheet).map_err(|p| report(&p, path))?;
    if rows.is_empty() {
        bail!("{} has a header but no offers", path.display());
    }
    let key = read_key(key)?;
    let (mut w, author) = writer(client, key)?;
    let identity = author
        .identity
        .clone()
        .unwrap_or_else(|| w.key().did().clone());
    let current = portfolio(client, &identity)?;
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    for row in &rows {
        match plan(row, current.get(&row.offer_id)) {
            Ok(p) => plans.push((row, p)),
            Err(message) => problems.push(Problem {
                row: row.line,
                column: "version".into(),
                message,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(report(&problems, path));
    }
    let changed = plans
        .iter()
        .filter(|(_, p)| matches!(p, Plan::Publish(_)))
        .count() as u64;
    if let (Some(allowance), Some(next)) = (author.allowance, author.next_position)
        && changed > 0
        && next + changed - 1 > allowance
    {
        bail!(Refused::new(
            kx_protocol::GateCode::AllowanceExceeded,
            format!(
                "{changed} changed offers would take positions {next} to {} of {identity}'s log; \
                 its allowance is {allowance}: ask the stewards to raise it \
                 (kx federation allowance --provider {identity} --records N)",
                next + changed - 1
            ),
        ));
    }
    let issued_at = now()?;
    let mut signed: Vec<(&Row, VerifiedRecord)> = Vec::new();
    let mut unchanged = Vec::new();
    for (row, p) in plans {
        match p {
            Plan::Unchanged(v) => unchanged.push((row, v)),
            Plan::Publish(body) => {
                let rec = w.write(*body, issued_at).map_err(Refused::from)?;
                signed.push((row, rec));
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if let Some(file) = &out.out {
        let mut text = Vec::new();
        for (_, rec) in &signed {
            text.extend_from_slice(rec.canonical_json());
            text.push(b'\n');
        }
        write_new(file, &text, false)?;
    }
    let mut results = Vec::new();
    for (row, rec) in &signed {
        let version = match &rec.record().body {
            Body::Offer(b) => b.version,
            _ => 0,
        };
        if out.out.is_none() {
            let answer = client.submit(rec.canonical_json()).with_context(|| {
                format!(
                    "row {} ({}): submitted {} of {} changed offers before this one",
                    row.line,
                    row.offer_id,
                    results.len(),
                    signed.len()
                )
            })?;
            if !json {
                writeln!(
                    stdout,
                    "row {}: {} version {version} {} {}",
                    row.line,
                    row.offer_id,
                    answer.status,
                    rec.id()
                )?;
            }
            results.push(
                json!({"row": row.line, "offer_id": row.offer_id, "version": version,
                "id": rec.id().to_hex(), "status": answer.status}),
            );
        } else {
            results.push(
                json!({"row": row.line, "offer_id": row.offer_id, "version": version,
                "id": rec.id().to_hex()}),
            );
        }
    }
    if json {
        let unchanged: Vec<Value> = unchanged
            .iter()
            .map(|(r, v)| json!({"row": r.line, "offer_id": r.offer_id, "version": v}))
            .collect();
        writeln!(
            stdout,
            "{}",
            json!({"published": results, "unchanged": unchanged,
                "written": out.out.as_ref().map(|p| p.display().to_string())})
        )?;
    } else {
        for (row, v) in &unchanged {
            writeln!(
                stdout,
                "row {}: {} version {v} unchanged",
                row.line, row.offer_id
            )?;
        }
        match &out.out {
            Some(file) => writeln!(
                stdout,
                "{} changed offer(s) signed and written to {}; {} unchanged",
                signed.len(),
                file.display(),
                unchanged.len()
            )?,
            None => writeln!(
                stdout,
                "{} offer(s) published, {} unchanged",
                signed.len(),
                unchanged.len()
            )?,
        }
    }
    Ok(())
}

/// The cells of the export columns for one offer body.
fn row_of(body: &OfferBody) -> Vec<String> {
    let v = serde_json::to_value(body).unwrap_or_default();
    COLUMNS
        .iter()
        .filter(|c| c.name != "version")
        .map(|c| {
            let value = match c.member.split_once('.') {
                Some((o, m)) => v.get(o).and_then(|o| o.get(m)),
                None => v.get(c.member),
            };
            match (c.cell, value) {
                (_, None) => String::new(),
                (Cell::Time | Cell::OptionalTime, Some(Value::String(s))) => {
                    s.strip_suffix("T00:00:00Z").unwrap_or(s).to_owned()
                }
                (Cell::Lines | Cell::OptionalLines, Some(Value::Array(items))) => {
                    let fields = if c.name == "contacts" {
                        CONTACT_FIELDS
                    } else {
                        COMPONENT_FIELDS
                    };
                    items
                        .iter()
                        .map(|item| line_of(item, fields))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
                (_, Some(Value::Array(items))) => items
                    .iter()
                    .map(|x| x.as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", "),
                (_, Some(Value::String(s))) => s.clone(),
                (_, Some(other)) => other.to_string(),
            }
        })
        .collect()
}

/// One line of a `Lines` cell: the fields joined by ` | `, empty trailing
/// fields left out.
fn line_of(item: &Value, fields: &[&str]) -> String {
    let mut parts: Vec<String> = fields
        .iter()
        .map(|f| match item.get(*f) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(true)) => "optional".into(),
            Some(Value::Bool(false)) => String::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
            Some(other) => other.to_string(),
        })
        .collect();
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts.join(" | ")
}

/// `kx offer export --provider DID [--out FILE]`: the provider's current
/// portfolio (every offer not withdrawn or consolidated) in the columns
/// `publish` reads; CSV to stdout or a file, XLSX if the file name says so.
pub fn export(client: &Client, provider: &str, out: Option<&Path>) -> Result<()> {
    let provider: Did = provider
        .parse()
        .map_err(|e| Refused::new(RecordCode::MalformedDid, format!("--provider: {e}")))?;
    let offers = portfolio(client, &provider)?;
    let header: Vec<&str> = COLUMNS
        .iter()
        .map(|c| c.name)
        .filter(|n| *n != "version")
        .collect();
    let rows: Vec<Vec<String>> = offers
        .values()
        .filter(|o| o.status != OfferStatus::Withdrawn && o.status != OfferStatus::Consolidated)
        .map(|o| row_of(&o.body))
        .collect();
    let extension = out
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        None | Some("csv" | "xlsx") => {}
        Some(other) => bail!("export writes .csv or .xlsx, not .{other}"),
    }
    match out {
        Some(path) if extension.as_deref() == Some("xlsx") => write_xlsx(path, &header, &rows)?,
        Some(path) => write_new(path, &csv_bytes(&header, &rows)?, false)?,
        None => std::io::stdout()
            .lock()
            .write_all(&csv_bytes(&header, &rows)?)?,
    }
    if let Some(path) = out {
        eprintln!("{} offer(s) written to {}", rows.len(), path.display());
    }
    Ok(())
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    w.into_inner().context("write CSV")
}

fn write_xlsx(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    use rust_xlsxwriter::{Format, Workbook};
    if path.exists() {
        bail!("{} exists; not overwriting it", path.display());
    }
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Angebote")?;
    let bold = Format::new().set_bold();
    // Every cell is text, so AGS prefixes keep their leading zero when edited.
    let text = Format::new().set_num_format("@").set_text_wrap();
    for (c, h) in header.iter().enumerate() {
        let c = u16::try_from(c)?;
        sheet.set_column_format(c, &text)?;
        sheet.write_string_with_format(0, c, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1)?;
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string_with_format(r, u16::try_from(c)?, cell, &text)?;
            }
        }
    }
    book.save(path)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
        assert_eq!(letter(27), "AB");
        assert_eq!(letter(701), "ZZ");
        assert_eq!(letter(702), "AAA");
    }

    #[test]
    fn number_cells_get_their_leading_zero_back() {
        assert_eq!(ags_digits(5158.0).as_deref(), Some("05158"));
        assert_eq!(ags_digits(5.0).as_deref(), Some("05"));
        assert_eq!(ags_digits(5158004.0).as_deref(), Some("05158004"));
        assert_eq!(ags_digits(10.0).as_deref(), Some("10"));
        assert_eq!(ags_digits(1.5), None);
    }

    #[test]
    fn protocol_paths_name_their_column() {
        let name = |p| column_of_path(p).map(|c| c.name);
        assert_eq!(name("body.sla.availability_bp"), Some("availability_bp"));
        assert_eq!(name("body.regions[2]"), Some("regions"));
        assert_eq!(
            name("body.price_components[0].unit"),
            Some("price_components")
        );
        assert_eq!(name("body.pricing.model"), Some("pricing_model"));
        assert_eq!(name("body.title"), Some("title"));
    }

    #[test]
    fn lines_read_back_what_export_writes() {
        let items = lines_of(
            "Einführung | once | flat | 800000\nSchulung | once | hour | 9000 | optional",
            COMPONENT_FIELDS,
        )
        .expect("lines");
        assert_eq!(items[0]["optional"], json!(false));
        assert_eq!(items[1]["optional"], json!(true));
        let text: Vec<String> = items.iter().map(|i| line_of(i, COMPONENT_FIELDS)).collect();
        assert_eq!(
            text.join("\n"),
            "Einführung | once | flat | 800000\nSchulung | once | hour | 9000 | optional"
        );
        assert!(lines_of("a | b | c | d | e | f", COMPONENT_FIELDS).is_err());
    }
}
