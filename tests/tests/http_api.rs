//! The HTTP API against `specs/http-api.yaml` on one node with a provider, a
//! profile and an offer in two versions (`api_node`): every documented operation
//! answers as documented, pages walk every record once, malformed input of many
//! kinds gets a documented 4xx with its code (never a 5xx), and every catalog
//! page carries the Content-Security-Policy.

use kx_tests::federation::{Federation, example};
use kx_tests::openapi::OpenApi;
use kx_tests::{Resp, get, get_html, get_with, request};
use std::collections::BTreeSet;

/// Calls that must be documented: each status and body is checked against the
/// file, and the operations called are remembered.
struct Api<'a> {
    spec: &'a OpenApi,
    base: String,
    seen: BTreeSet<(String, String)>,
}

impl<'a> Api<'a> {
    fn new(spec: &'a OpenApi, f: &Federation) -> Api<'a> {
        Api {
            spec,
            base: f.url(0),
            seen: BTreeSet::new(),
        }
    }

    /// A documented operation: status documented, body matches.
    fn call(&mut self, method: &str, path: &str, body: &[u8]) -> Resp {
        let r = request(&self.base, method, path, body);
        assert!(
            r.status < 500,
            "{method} {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        self.spec.check(method, path, r.status, &r.body);
        let template = self
            .spec
            .paths()
            .into_iter()
            .find(|t| {
                let t: Vec<&str> = t.split('/').collect();
                let p: Vec<&str> = path.split('?').next().unwrap_or("").split('/').collect();
                t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a == b || a.starts_with('{'))
            })
            .unwrap_or_default();
        self.seen.insert((method.to_owned(), template));
        r
    }

    /// Status and error code of a documented call.
    fn code(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let r = self.call(method, path, body);
        let code = if r.status >= 400 {
            r.json()["error"]["code"].as_str().unwrap_or("").to_owned()
        } else {
            String::new()
        };
        (r.status, code)
    }
}

/// One node; ITK Rheinland (`p`) with its profile and `examples/offer.toml` in
/// two versions; Erkrath (`stadt`) admitted as a buyer, with
/// `examples/demand.toml` and a request for the offer that ITK Rheinland
/// accepted.
fn api_node() -> Federation {
    let mut f = Federation::new("API Test", &["s"], 1, 1, &[("p", "ITK Rheinland")]);
    f.kx_ok(
        0,
        &[
            "profile",
            "publish",
            "--key",
            "p.key",
            &example("profile.toml"),
        ],
    );
    for _ in 0..2 {
        f.kx_ok(
            0,
            &["offer", "publish", "--key", "p.key", &example("offer.toml")],
        );
    }
    f.key("stadt");
    f.admit_municipality("stadt", "05158004");
    f.kx_ok(
        0,
        &[
            "demand",
            "publish",
            "--key",
            "stadt.key",
            &example("demand.toml"),
        ],
    );
    let offer = format!("{}/meldewesen-hosting", f.did("p"));
    let out = f.kx_ok(
        0,
        &[
            "request",
            "send",
            "--key",
            "stadt.key",
            "--offer",
            &offer,
            "--quantity",
            "30000",
            "--start",
            "2027-01-01",
            "--term-months",
            "36",
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("request id "))
        .expect("request id")
        .to_owned();
    f.kx_ok(0, &["request", "accept", "--key", "p.key", &id]);
    f
}

fn records(url: &str) -> u64 {
    get(url, "/v1/status").json()["records"]
        .as_u64()
        .expect("records")
}

#[test]
fn every_documented_operation_answers_as_documented() {
    let f = api_node();
    let spec = OpenApi::load();
    let mut api = Api::new(&spec, &f);
    let p = f.did("p");
    let url = f.url(0);
    api.call("GET", "/v1/status", b"");
    let own = api.call("GET", "/v1/checkpoint", b"").json();
    // Handed its own checkpoint back, the node records it; a broken one is
    // refused with its code.
    let body = serde_json::json!({"note": own["note"], "frontier": own["frontier"]}).to_string();
    assert_eq!(
        api.call("POST", "/v1/checkpoints", body.as_bytes()).json()["status"],
        "recorded"
    );
    let broken = api.call(
        "POST",
        "/v1/checkpoints",
        b"{\"note\": \"x\", \"frontier\": {}}",
    );
    assert_eq!(broken.json()["error"]["code"], "malformed_checkpoint");
    api.call("GET", "/v1/offers", b"");
    api.call("GET", "/v1/offers?region=05158004&category=fachverfahren&ozg=10124&leika=99115005104000&cert=iso27001-grundschutz&q=melde&include=withdrawn,expired,not_yet_valid&limit=1", b"");
    api.call(
        "GET",
        &format!("/v1/offers?provider={p}&at=2026-06-01T00:00:00Z"),
        b"",
    );
    let by_town = api
        .call(
            "GET",
            "/v1/offers?municipality=Erkrath&procurement=tender_free",
            b"",
        )
        .json();
    assert_eq!(
        by_town["offers"][0]["procurement"]["municipality"]["ags"],
        "05158004"
    );
    // The market survey of the same search (no witnesses named: on the
    // node's current checkpoint) verifies against the genesis and finds the
    // same offers; without a municipality there is no survey.
    let survey = api.call(
        "GET",
        "/v1/survey?municipality=Erkrath&procurement=tender_free&at=2026-06-01T00:00:00Z",
        b"",
    );
    let shown = kx_api::survey::verify(&survey.body, &f.genesis).expect("the bundle verifies");
    let same = get(
        &url,
        "/v1/offers?municipality=Erkrath&procurement=tender_free&at=2026-06-01T00:00:00Z",
    )
    .json();
    assert_eq!(
        shown.rows.len() as u64,
        same["total"].as_u64().expect("total")
    );
    assert!(!shown.rows.is_empty());
    let refused = api.call("GET", "/v1/survey?category=fachverfahren", b"");
    assert_eq!(refused.json()["error"]["code"], "invalid_query");
    let costed = api
        .call(
            "GET",
            &format!("/v1/offers/{p}/meldewesen-hosting?municipality=05158004&users=40&sites=2"),
            b"",
        )
        .json();
    // Erkrath's inhabitants from the shipped data, in the cost's one line.
    let erkrath = kx_protocol::geo::municipalities()
        .iter()
        .find(|m| m.ags == "05158004")
        .map(|m| m.population);
    let per_inhabitant = costed["cost"]["lines"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["unit"] == "inhabitant"))
        .and_then(|x| x["quantity"].as_u64());
    assert_eq!(per_inhabitant, erkrath, "{costed}");
    // The example's contact for Kreis Mettmann, where Erkrath is.
    assert_eq!(
        costed["contact"]["contact"]["regions"],
        serde_json::json!(["05158"]),
        "{costed}"
    );
    let page = get(&url, "/?gemeinde=Erkrath");
    assert!(page.content_type.starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("Angebote für Erkrath"));
    api.seen.insert(("GET".into(), "/".into()));
    let offer = api
        .call(
            "GET",
            &format!("/v1/offers/{p}/meldewesen-hosting?history=true"),
            b"",
        )
        .json();
    assert_eq!(offer["history"].as_array().map(Vec::len), Some(2));
    api.call("GET", "/v1/providers", b"");
    api.call("GET", &format!("/v1/providers/{p}"), b"");
    api.call("GET", &format!("/v1/authors/{p}"), b"");
    api.call("GET", "/v1/records?limit=2", b"");
    let id = offer["record"].as_str().expect("id");
    let raw = api.call("GET", &format!("/v1/records/{id}"), b"");
    assert_eq!(raw.content_type, "application/json");
    let again = api.call("POST", "/v1/records", &raw.body);
    assert_eq!(again.status, 200);
    let stadt = f.did("stadt");
    let requests = api
        .call(
            "GET",
            &format!("/v1/requests?buyer={stadt}&status=accepted&limit=5"),
            b"",
        )
        .json();
    let rid = requests["requests"][0]["id"]
        .as_str()
        .expect("request id")
        .to_owned();
    api.call(
        "GET",
        &format!("/v1/requests/{rid}?at=2027-02-01T00:00:00Z"),
        b"",
    );
    let agreements = api
        .call(
            "GET",
            &format!("/v1/agreements?provider={p}&ags=05158&offer={p}/meldewesen-hosting&category=fachverfahren&at=2027-02-01T00:00:00Z"),
            b"",
        )
        .json();
    assert_eq!(agreements["agreements"][0]["agreement"]["status"], "active");
    api.call("GET", "/v1/demand?ags=05158&category=e-akte", b"");
    api.call("GET", "/v1/municipalities?region=05158", b"");
    let town = api.call("GET", "/v1/municipalities/Erkrath", b"").json();
    assert_eq!(town["agreements"][0]["id"], rid.as_str());
    let transition = api
        .call(
            "GET",
            "/v1/transition?category=fachverfahren&at=2027-02-01T00:00:00Z",
            b"",
        )
        .json();
    assert_eq!(transition["totals"]["active_agreements"], 1, "{transition}");
    let standards = api.call("GET", "/v1/standards", b"").json();
    assert_eq!(standards["standards"], serde_json::json!([]), "{standards}");
    let metrics = get(&url, "/metrics");
    assert!(
        String::from_utf8_lossy(&metrics.body)
            .contains("kx_records_received_total{source=\"http\"}")
    );
    api.seen.insert(("GET".into(), "/metrics".into()));
    assert_eq!(api.call("GET", "/healthz", b"").json()["alive"], true);
    // The backup: a header, then every record as signed, the genesis first.
    let backup = api.call("GET", "/v1/export", b"");
    assert_eq!(backup.content_type, "application/x-ndjson");
    let text = String::from_utf8(backup.body).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    let head: serde_json::Value = serde_json::from_str(lines[0]).expect("header");
    let held = get(&url, "/v1/status").json()["records"].clone();
    assert_eq!(head["records"], held);
    assert_eq!(lines.len() as u64, held.as_u64().expect("records") + 1);
    let first = kx_protocol::VerifiedRecord::from_bytes(lines[1].as_bytes()).expect("genesis");
    assert_eq!(first.id(), f.genesis.id());
    // A node without bootstrap peers is ready on its own.
    let ready = api.call("GET", "/readyz", b"").json();
    assert_eq!(ready["records"], get(&url, "/v1/status").json()["records"]);
    for path in spec.paths() {
        assert!(
            api.seen.iter().any(|(_, t)| *t == path),
            "{path} is documented but not exercised"
        );
    }
}

#[test]
fn pages_of_records_walk_every_record_exactly_once() {
    let f = api_node();
    let spec = OpenApi::load();
    let mut api = Api::new(&spec, &f);
    let total = records(&f.url(0));
    let mut cursor: Option<String> = None;
    let mut ids = BTreeSet::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/records?limit=2&cursor={c}"),
            None => "/v1/records?limit=2".to_owned(),
        };
        let page = api.call("GET", &path, b"").json();
        for r in page["records"].as_array().expect("records") {
            let text = serde_json::to_vec(r).expect("json");
            let rec =
                kx_protocol::VerifiedRecord::from_bytes(&text).expect("served records verify");
            assert!(ids.insert(rec.id()), "record served twice");
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len() as u64, total);
}

#[test]
fn malformed_queries_and_paths_get_their_documented_code() {
    let f = api_node();
    let spec = OpenApi::load();
    let mut api = Api::new(&spec, &f);
    let p = f.did("p");
    let mut cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "GET",
            "/v1/records?limit=0".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/records?limit=abc".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/records?cursor=zz".into(),
            vec![],
            400,
            "malformed_hash",
        ),
        (
            "GET",
            "/v1/records?bogus=1".into(),
            vec![],
            400,
            "unknown_parameter",
        ),
        (
            "GET",
            "/v1/records?limit=1&limit=2".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/records/zz".into(),
            vec![],
            400,
            "malformed_hash",
        ),
        (
            "GET",
            "/v1/records/%ff%fe".into(),
            vec![],
            400,
            "invalid_path",
        ),
        (
            "GET",
            format!("/v1/records/{}", "0".repeat(64)),
            vec![],
            404,
            "not_found",
        ),
        (
            "GET",
            "/v1/offers?region=abc".into(),
            vec![],
            400,
            "malformed_ags",
        ),
        (
            "GET",
            "/v1/offers?region=0515".into(),
            vec![],
            400,
            "malformed_ags",
        ),
        (
            "GET",
            "/v1/offers?region=00".into(),
            vec![],
            400,
            "malformed_ags",
        ),
        (
            "GET",
            "/v1/offers?category=E-Akte".into(),
            vec![],
            400,
            "malformed_slug",
        ),
        (
            "GET",
            "/v1/offers?cert=ISO".into(),
            vec![],
            400,
            "malformed_slug",
        ),
        (
            "GET",
            "/v1/offers?ozg=x1".into(),
            vec![],
            400,
            "malformed_ozg_id",
        ),
        (
            "GET",
            "/v1/offers?leika=123".into(),
            vec![],
            400,
            "malformed_leika_key",
        ),
        (
            "GET",
            "/v1/offers?region=&category=&q=".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/offers?include=everything".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/offers?provider=did:web:example.org".into(),
            vec![],
            400,
            "malformed_did",
        ),
        (
            "GET",
            "/v1/offers?cursor=nonsense".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/offers?at=yesterday".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/offers?limit=99999".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            format!("/v1/offers?q={}", "x".repeat(5000)),
            vec![],
            400,
            "invalid_query",
        ),
        ("GET", "/v1/offers?q=%ff".into(), vec![], 200, ""),
        (
            "GET",
            "/v1/offers?municipality=Atlantis".into(),
            vec![],
            400,
            "unknown_municipality",
        ),
        (
            "GET",
            "/v1/offers?municipality=Bad".into(),
            vec![],
            400,
            "ambiguous_municipality",
        ),
        (
            "GET",
            "/v1/offers?procurement=in_house".into(),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/offers/did:key:zzz/x".into(),
            vec![],
            400,
            "malformed_did",
        ),
        (
            "GET",
            format!("/v1/offers/{p}/BAD%20ID"),
            vec![],
            400,
            "malformed_offer_id",
        ),
        (
            "GET",
            format!("/v1/offers/{p}/nothing-here"),
            vec![],
            404,
            "not_found",
        ),
        (
            "GET",
            format!("/v1/offers/{p}/meldewesen-hosting?history=maybe"),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            format!("/v1/offers/{p}/meldewesen-hosting?users=-1"),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            format!("/v1/offers/{p}/meldewesen-hosting?sites=9007199254740992"),
            vec![],
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/providers/xyz".into(),
            vec![],
            400,
            "malformed_did",
        ),
        (
            "GET",
            "/v1/providers?x=1".into(),
            vec![],
            400,
            "unknown_parameter",
        ),
        (
            "GET",
            "/v1/authors/notadid".into(),
            vec![],
            400,
            "malformed_did",
        ),
    ];
    // The exchange's lists and pages.
    for (path, status, code) in [
        ("/v1/requests?status=gone", 400, "invalid_query"),
        ("/v1/requests?cursor=zz", 400, "malformed_hash"),
        ("/v1/requests?ags=1", 400, "malformed_ags"),
        ("/v1/requests?offer=nothing", 400, "invalid_query"),
        (
            "/v1/requests?municipality=Erkrath",
            400,
            "unknown_parameter",
        ),
        ("/v1/agreements?status=accepted", 400, "invalid_query"),
        ("/v1/agreements?limit=1001", 400, "invalid_query"),
        ("/v1/demand?status=accepted", 400, "invalid_query"),
        (
            "/v1/demand?cursor=did:key:z6Mk/Bad%20Id",
            400,
            "malformed_did",
        ),
        ("/v1/municipalities?region=0", 400, "malformed_ags"),
        ("/v1/municipalities/Atlantis", 400, "unknown_municipality"),
        ("/v1/transition?category=Nicht%20da", 400, "malformed_slug"),
        ("/v1/transition?at=gestern", 400, "invalid_query"),
        ("/v1/transition?region=05", 400, "unknown_parameter"),
        ("/v1/standards?at=gestern", 400, "invalid_query"),
        ("/v1/standards?category=e-akte", 400, "unknown_parameter"),
        ("/v1/requests/abc", 400, "malformed_hash"),
    ] {
        cases.push(("GET", path.into(), vec![], status, code));
    }
    let missing = format!("/v1/requests/{}", "ab".repeat(32));
    cases.push(("GET", missing, vec![], 404, "not_found"));
    for (method, path, body, status, code) in cases {
        let (s, c) = api.code(method, &path, &body);
        assert_eq!((s, c.as_str()), (status, code), "{method} {path}");
    }
}

#[test]
fn malformed_record_bodies_get_their_documented_code() {
    let f = api_node();
    let spec = OpenApi::load();
    let mut api = Api::new(&spec, &f);
    let before = records(&f.url(0));
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        ("POST", "/v1/records".into(), vec![], 400, "malformed_json"),
        (
            "POST",
            "/v1/records".into(),
            b"\xff\xfe\x00".to_vec(),
            400,
            "invalid_utf8",
        ),
        (
            "POST",
            "/v1/records".into(),
            b"[1,2]".to_vec(),
            400,
            "not_an_object",
        ),
        (
            "POST",
            "/v1/records".into(),
            format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            400,
            "too_deep",
        ),
        (
            "POST",
            "/v1/records".into(),
            b"{\"seq\": 1e400}".to_vec(),
            400,
            "float_not_allowed",
        ),
        (
            "POST",
            "/v1/records".into(),
            format!("{{\"seq\": {}}}", "9".repeat(400)).into_bytes(),
            400,
            "integer_out_of_range",
        ),
        (
            "POST",
            "/v1/records".into(),
            b"{\"v\":1}".to_vec(),
            400,
            "missing_field",
        ),
        (
            "POST",
            "/v1/records".into(),
            vec![b'{'; 140_000],
            413,
            "too_large",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (s, c) = api.code(method, &path, &body);
        assert_eq!((s, c.as_str()), (status, code), "{method} {path}");
    }
    assert_eq!(records(&f.url(0)), before, "nothing stored");
}

#[test]
fn unknown_routes_are_json_errors_for_the_api_and_a_page_for_a_browser() {
    let f = api_node();
    for (method, path, status, code) in [
        ("GET", "/nope", 404, "not_found"),
        ("DELETE", "/v1/records", 405, "method_not_allowed"),
        ("PUT", "/v1/status", 405, "method_not_allowed"),
    ] {
        let r = request(&f.url(0), method, path, b"");
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}"
        );
    }
    // A browser gets the catalog's German page for an unknown page, and
    // still JSON under /v1.
    let page = get_html(&f.url(0), "/nope");
    assert_eq!(page.status, 404);
    assert!(page.content_type.starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("Diese Seite gibt es nicht"));
    let api = get_html(&f.url(0), "/v1/nope");
    assert_eq!(
        (api.status, api.json()["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[test]
fn random_bytes_never_give_a_5xx_or_store_a_record() {
    let f = api_node();
    let url = f.url(0);
    let before = records(&url);
    let alphabet: &[u8] = b"{}[]\":,0123456789-.eE truefalsnul\\u\xc3\xa9\xff";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..200 {
        let len = (i * 37) % 600;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                alphabet[(seed % alphabet.len() as u64) as usize]
            })
            .collect();
        let r = request(&url, "POST", "/v1/records", &body);
        assert!(
            (400..500).contains(&r.status),
            "random body {i}: {}",
            r.status
        );
    }
    assert_eq!(records(&url), before);
}

#[test]
fn every_catalog_page_is_escaped_and_carries_the_content_security_policy() {
    let f = api_node();
    let url = f.url(0);
    let p = f.did("p");
    let offer = format!("{}/meldewesen-hosting", url_enc(&p));
    let pages = [
        "/".to_owned(),
        "/?gemeinde=Erkrath&kategorie=fachverfahren".to_owned(),
        "/?gemeinde=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
        format!("/angebot/{offer}?gemeinde=05158004"),
        format!("/anbieter/{}", url_enc(&p)),
        format!("/vergleich?o={p}/meldewesen-hosting&o={p}/meldewesen-hosting"),
        "/vergleich".to_owned(),
        "/angebot/x/y".to_owned(),
        "/gemeinden".to_owned(),
        "/gemeinde/Erkrath".to_owned(),
        "/gemeinde/%3Cscript%3E".to_owned(),
        format!("/anbieter/{}/abrufe", url_enc(&p)),
        format!("/abruf/{}", "ab".repeat(32)),
        "/abruf/%3Cscript%3E".to_owned(),
        "/uebergang".to_owned(),
        "/standards".to_owned(),
    ];
    let stadt = f.did("stadt");
    let ids = get(&url, &format!("/v1/requests?buyer={stadt}")).json();
    let request = format!(
        "/abruf/{}",
        ids["requests"][0]["id"].as_str().expect("a request")
    );
    for path in pages.into_iter().chain([request]) {
        let r = get(&url, &path);
        assert!(r.status < 500, "{path}: {}", r.status);
        assert!(r.content_type.starts_with("text/html"), "{path}");
        let form = path.starts_with("/angebot/") && r.status == 200;
        let (policy, script) = if form {
            (
                kx_node::catalog::CSP_FORM,
                "<script src=\"/static/abruf.js\" defer></script>",
            )
        } else {
            (kx_node::catalog::CSP, "")
        };
        assert_eq!(
            r.header("content-security-policy"),
            Some(policy),
            "{path}: the policy"
        );
        let page = String::from_utf8(r.body).expect("utf8");
        // The offer page has this node's one script; no page has another.
        assert_eq!(
            page.matches("<script").count(),
            usize::from(form),
            "{path}: script tags"
        );
        assert!(
            form == page.contains(script) || !form,
            "{path}: the request form's script"
        );
        assert!(!page.contains("<script>"), "{path}: an inline script");
        assert!(!page.contains("style="), "{path}: an inline style");
        assert!(
            page.contains("<link rel=\"stylesheet\" href=\"/static/kx.css\">"),
            "{path}"
        );
    }
    let js = get(&url, "/static/abruf.js");
    assert!(js.content_type.starts_with("text/javascript"));
    assert!(String::from_utf8_lossy(&js.body).contains("crypto.subtle"));
    let css = get(&url, "/static/kx.css");
    assert!(css.content_type.starts_with("text/css"));
    assert!(String::from_utf8_lossy(&css.body).contains("font-family"));
}

fn url_enc(s: &str) -> String {
    s.replace(':', "%3A")
}

/// schemathesis as `scripts/test` installs it (or `$KX_SCHEMATHESIS`).
fn schemathesis() -> std::path::PathBuf {
    let path = std::env::var_os("KX_SCHEMATHESIS").map_or_else(
        || {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/schemathesis/bin/schemathesis")
        },
        std::path::PathBuf::from,
    );
    assert!(
        path.exists(),
        "schemathesis is missing at {}: run scripts/test, which installs it from PyPI",
        path.display()
    );
    path
}

/// The OpenAPI file says what the node accepts and answers, checked by a
/// property-based fuzzer that reads nothing but the file: schemathesis
/// generates requests that fit the schemas (each must be accepted) and
/// requests that violate them (each must be refused), and checks every
/// answer against the documented statuses, content types and schemas. Only
/// what no schema can say is fed in from the running node: keys that decode
/// to curve points, the offers and demand that exist, municipality names.
/// The seed is fixed, so a run is repeatable.
#[test]
fn schemathesis_finds_no_disagreement_between_the_node_and_its_openapi_file() {
    let st = schemathesis();
    let mut f = api_node();
    let url = f.url(0);
    let (p, stadt, unknown) = (f.did("p"), f.did("stadt"), f.key("fremd"));
    let demand = get(&url, "/v1/demand").json()["demands"][0]["demand_id"]
        .as_str()
        .expect("a demand")
        .to_owned();
    let mut ids: Vec<String> = get(&url, "/v1/records?limit=6").json()["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let bytes = serde_json::to_vec(r).ok()?;
            Some(
                kx_protocol::VerifiedRecord::from_bytes(&bytes)
                    .ok()?
                    .id()
                    .to_hex(),
            )
        })
        .collect();
    ids.extend(
        get(&url, "/v1/requests").json()["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_owned)),
    );
    let ids = ids
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        r#"# Generated by tests/tests/http_api.rs for one run.
[dictionaries.dids]
values = ["{p}", "{stadt}", "{unknown}"]
[dictionaries.offers]
values = ["{p}/meldewesen-hosting", "{unknown}/nichts"]
[dictionaries.demands]
values = ["{stadt}/{demand}", "{unknown}/nichts"]
[dictionaries.offer_ids]
values = ["meldewesen-hosting", "nichts"]
[dictionaries.records]
values = [{ids}]
[dictionaries.municipalities]
values = ["Paderborn", "05774032", "erkrath", "Köln", "05158004", "Bad Berleburg"]

[parameters]
"query.provider" = {{ dictionary = "dids", probability = 1.0 }}
"query.buyer" = {{ dictionary = "dids", probability = 1.0 }}
"path.did" = {{ dictionary = "dids", probability = 1.0 }}
"path.provider" = {{ dictionary = "dids", probability = 1.0 }}
"query.offer" = {{ dictionary = "offers", probability = 1.0 }}
"query.municipality" = {{ dictionary = "municipalities", probability = 1.0 }}
"path.municipality" = {{ dictionary = "municipalities", probability = 1.0 }}
"path.offer_id" = {{ dictionary = "offer_ids", probability = 1.0 }}
"path.id" = {{ dictionary = "records", probability = 1.0 }}

# The coverage phase walks each schema's boundaries, bypassing the values
# above: there a did of the right form is no key and a name no municipality,
# so it checks only that what violates a schema is refused.
[phases.coverage.checks.positive_data_acceptance]
enabled = false

# The stateful phase chains calls through links it infers from the answers;
# the file declares none, and the inferred ones feed objects into paths.
[phases.stateful]
enabled = false

# procurement needs a municipality: the search always names one.
[[operations]]
include-path-regex = "^/v1/offers$"
include-method = "GET"
parameters = {{ "query.cursor" = {{ dictionary = "offers", probability = 1.0 }}, "query.municipality" = "Paderborn" }}

[[operations]]
include-path = "/v1/demand"
include-method = "GET"
parameters = {{ "query.cursor" = {{ dictionary = "demands", probability = 1.0 }} }}

# A record that fits the schema is still refused unless it is signed, hashed
# and admitted (specs/protocol.md): those answers are documented, not errors.
[[operations]]
include-path = "/v1/records"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = [200, 201, 400, 413, 422]
"#
    );
    std::fs::write(f.dir().join("schemathesis.toml"), config).expect("write config");
    let spec = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/http-api.yaml");
    let out = std::process::Command::new(&st)
        .current_dir(f.dir())
        .args(["--no-color", "--config-file", "schemathesis.toml", "run"])
        .arg(&spec)
        .args([
            "--url",
            &url,
            "--seed",
            "20261124",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--generation-database",
            "none",
        ])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found disagreements:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It tried every operation, with some hundreds of requests.
    let generated: u64 = stdout
        .lines()
        .find_map(|l| l.trim().split_once(" generated, ")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no count of test cases:\n{stdout}"));
    assert!(generated >= 300, "only {generated} test cases:\n{stdout}");
    let operations = OpenApi::load().operations();
    assert!(
        stdout.contains(&format!("Selected: {operations}/{operations}")),
        "{stdout}"
    );
}

/// A client over its rate limit gets 429 rate_limited with Retry-After, as
/// documented, while another client's searches go on; health checks are not
/// counted. Clients are told apart by X-Forwarded-For (`forwarded_for`), as
/// behind a reverse proxy.
#[test]
fn a_client_over_its_rate_limit_gets_429_and_others_are_served() {
    let t = kx_tests::TempDir::new("limits");
    let f = api_node();
    let dir = t.path().join("n");
    kx_tests::init_fast(&dir, &f.genesis, &[]);
    let cfg = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace(
            "rate_limit_queries_per_sec = 0",
            "rate_limit_queries_per_sec = 2",
        )
        .replace("forwarded_for = false", "forwarded_for = true");
    std::fs::write(&cfg, text).expect("config");
    let node = kx_tests::NodeProc::start(&dir, &[]);
    let spec = OpenApi::load();
    let flood: Vec<Resp> = (0..40)
        .map(|_| {
            get_with(
                &node.http,
                "/v1/offers",
                "x-forwarded-for",
                "192.0.2.1, 10.0.0.1",
            )
        })
        .collect();
    let limited: Vec<&Resp> = flood.iter().filter(|r| r.status == 429).collect();
    assert!(
        limited.len() >= 20,
        "{} of 40 refused; a burst of 8 at 2/s lets at most a few more through",
        limited.len()
    );
    for r in &limited {
        spec.check("GET", "/v1/offers", r.status, &r.body);
        assert_eq!(r.json()["error"]["code"], "rate_limited");
        let after: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!(after >= 1);
    }
    // Another client, and the health check of the first, are served.
    let other = get_with(&node.http, "/v1/offers", "x-forwarded-for", "10.0.0.2");
    assert_eq!(other.status, 200);
    let health = get_with(&node.http, "/healthz", "x-forwarded-for", "10.0.0.1");
    assert_eq!(health.status, 200);
    let metrics = String::from_utf8(get(&node.http, "/metrics").body).expect("utf8");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("kx_http_rate_limited_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
}

/// A registry of the node's records, from its backup.
fn registry_of_node(url: &str) -> kx_protocol::Registry {
    let body = get(url, "/v1/export").body;
    let mut lines = body
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty());
    let genesis = kx_protocol::VerifiedRecord::from_bytes(lines.next().expect("genesis"))
        .expect("genesis verifies");
    let mut reg = kx_protocol::Registry::new(genesis).expect("registry");
    for line in lines {
        reg.add(kx_protocol::VerifiedRecord::from_bytes(line).expect("verifies"))
            .expect("add");
    }
    reg
}

#[test]
fn the_node_signs_checkpoints_of_its_set_and_they_follow_one_another() {
    use kx_protocol::checkpoint::{Checkpoint, Frontier};
    let f = api_node();
    let url = f.url(0);
    let read = || {
        let v = get(&url, "/v1/checkpoint").json();
        let cp = Checkpoint::read(v["note"].as_str().expect("note")).expect("the note verifies");
        let frontier = Frontier::from_json(&v["frontier"]).expect("frontier");
        assert_eq!(
            cp.root,
            frontier.root(),
            "the note states the frontier's root"
        );
        assert_eq!(cp.size, frontier.size());
        (cp, frontier)
    };
    let (first, before) = read();
    // Signed with the node's libp2p identity key: the peer id is that key's.
    let public = libp2p::identity::ed25519::PublicKey::try_from_bytes(first.signer.public_key())
        .expect("ed25519 key");
    let peer = libp2p::PeerId::from_public_key(&public.into());
    assert_eq!(get(&url, "/v1/status").json()["peer_id"], peer.to_string());
    assert_eq!(first.federation, f.genesis.record().federation);
    // The frontier is the node's set: recomputed from its backup, the same.
    assert_eq!(registry_of_node(&url).frontier(), before);
    f.kx_ok(
        0,
        &["offer", "publish", "--key", "p.key", &example("offer.toml")],
    );
    let (second, after) = read();
    assert_eq!(second.size, first.size + 1);
    let reg = registry_of_node(&url);
    reg.consistent(&before, &after)
        .expect("the later follows from the earlier");
    // A frontier that leaves out a provider's log does not.
    let mut forged = after.clone();
    forged.logs.retain(|l| l.author.as_str() != f.did("p"));
    assert!(reg.consistent(&before, &forged).is_err());
    assert!(
        reg.consistent(&after, &before).is_err(),
        "nor does going back"
    );
}
