//! The HTTP API against `specs/http-api.yaml`: every documented operation is
//! called, every response's status is documented and its body matches the
//! schema; malformed input of many kinds gets a 4xx JSON error, never a 500.

use kx_tests::openapi::OpenApi;
use kx_tests::{NodeProc, Resp, TempDir, get, kx_ok, request};
use std::collections::BTreeSet;
use std::path::Path;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

struct Api<'a> {
    spec: &'a OpenApi,
    base: &'a str,
    seen: BTreeSet<(String, String)>,
}

impl Api<'_> {
    /// A documented operation: status documented, body matches.
    fn call(&mut self, method: &str, path: &str, body: &[u8]) -> Resp {
        let r = request(self.base, method, path, body);
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

#[test]
fn every_endpoint_matches_the_openapi_description() {
    let t = TempDir::new("api");
    let d = t.path();
    kx_ok(d, "", &["key", "gen", "--out", "s.key"]);
    let p = kx_ok(d, "", &["key", "gen", "--out", "p.key"])
        .trim()
        .to_owned();
    kx_ok(
        d,
        "",
        &[
            "federation",
            "init",
            "--name",
            "API Test",
            "--steward-key",
            "s.key",
            "--out",
            "g.json",
        ],
    );
    NodeProc::init(&d.join("n"), &d.join("g.json"), &[]);
    let node = NodeProc::start(&d.join("n"), &[]);
    let url = node.http.clone();
    kx_ok(
        d,
        &url,
        &[
            "federation",
            "admit",
            "--genesis",
            "g.json",
            "--steward-key",
            "s.key",
            "--provider",
            &p,
            "--name",
            "ITK Rheinland",
        ],
    );
    kx_ok(
        d,
        &url,
        &[
            "profile",
            "publish",
            "--key",
            "p.key",
            &example("profile.toml"),
        ],
    );
    kx_ok(
        d,
        &url,
        &["offer", "publish", "--key", "p.key", &example("offer.toml")],
    );
    kx_ok(
        d,
        &url,
        &["offer", "publish", "--key", "p.key", &example("offer.toml")],
    );

    let spec = OpenApi::load();
    let mut api = Api {
        spec: &spec,
        base: &url,
        seen: BTreeSet::new(),
    };

    // Successful calls.
    let status = api.call("GET", "/v1/status", b"").json();
    let total = status["records"].as_u64().expect("records");
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
    api.call(
        "GET",
        &format!("/v1/offers/{p}/meldewesen-hosting?municipality=05158004"),
        b"",
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
    api.call("GET", "/v1/providers", b"");
    api.call("GET", &format!("/v1/providers/{p}"), b"");
    api.call("GET", &format!("/v1/authors/{p}"), b"");
    let id = offer["record"].as_str().expect("id");
    let raw = api.call("GET", &format!("/v1/records/{id}"), b"");
    assert_eq!(raw.content_type, "application/json");
    let again = api.call("POST", "/v1/records", &raw.body);
    assert_eq!(again.status, 200);
    let metrics = get(&url, "/metrics");
    assert!(
        String::from_utf8_lossy(&metrics.body)
            .contains("kx_records_received_total{source=\"http\"}")
    );
    api.seen.insert(("GET".into(), "/metrics".into()));

    // Pagination walks every record exactly once.
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

    // Malformed input: documented 4xx with the right code.
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
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
    // Undocumented routes and methods: JSON errors too.
    for (method, path, status, code) in [
        ("GET", "/nope", 404, "not_found"),
        ("DELETE", "/v1/records", 405, "method_not_allowed"),
        ("PUT", "/v1/status", 405, "method_not_allowed"),
    ] {
        let r = request(&url, method, path, b"");
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}"
        );
    }

    // Random bytes never produce a 5xx or a stored record.
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
    let after = get(&url, "/v1/status").json();
    assert_eq!(after["records"].as_u64(), Some(total));

    // Every documented operation was exercised.
    for path in spec.paths() {
        assert!(
            api.seen.iter().any(|(_, t)| *t == path),
            "{path} is documented but not exercised"
        );
    }
    node.stop();
}
