//! The web catalog in a real headless Chromium (Debian `chromium` and
//! `chromium-driver`, installed by `scripts/test`), driven over WebDriver the way
//! a person uses it: search for a municipality and a category, open an offer, open
//! its provider, compare two offers, see what Paderborn takes, request an offer
//! with Paderborn's key file (signed in the browser) and find the request on
//! the provider's page; work out Paderborn's cost, follow a stewards' standard
//! to the offers that meet it, and open a Kreis on the transition map with the
//! keyboard. Every page is checked with axe-core (WCAG 2.1 A and AA, as BITV
//! 2.0 requires, plus axe's best practices); `scripts/test` fetches it from the
//! npm registry. Screenshots of each page go to `target/screenshots/` (to
//! `docs/screenshots/` with KX_UPDATE_SCREENSHOTS=1).

use base64::Engine as _;
use kx_tests::{TempDir, bin, free_base_port, wait_for};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Driver {
    base: String,
    session: String,
    agent: ureq::Agent,
    /// axe-core's source, injected into each page checked.
    axe: String,
    /// What axe found, page by page; the test fails at its end if any.
    violations: std::cell::RefCell<Vec<String>>,
    checked: std::cell::Cell<usize>,
}

/// The rule sets checked: WCAG 2.0 and 2.1, levels A and AA (BITV 2.0), and
/// axe's best practices.
const AXE_RUN: &str = "const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
  .then(r => done({passes: r.passes.length, violations: r.violations.map(v =>
    `${v.id} (${v.impact}): ${v.help}; ` + v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', '))}))
  .catch(e => done({error: String(e)}));";

/// axe-core as `scripts/test` fetched it (or `$KX_AXE_CORE`).
fn axe_source() -> String {
    let path = std::env::var_os("KX_AXE_CORE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/axe-core/axe.min.js"),
        PathBuf::from,
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing at {} ({e}): run scripts/test, which fetches it from the npm registry",
            path.display()
        )
    })
}

/// Ends the session, which quits Chromium: killing chromedriver alone (when a
/// step fails) would leave the browser running and the next run slower.
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.try_call("DELETE", "", None);
    }
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body) {
            Ok(v) => v,
            Err(e) => panic!("webdriver {path}: {e}"),
        }
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let r = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string().as_bytes()),
        };
        let mut r = r.map_err(|e| e.to_string())?;
        let text = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if let Some(err) = v["value"].get("error") {
            return Err(format!("{err}: {}", v["value"]["message"]));
        }
        Ok(v["value"].clone())
    }

    /// Waits until the element's text contains `want` (pages load after a click
    /// asynchronously; an element of the old page may be gone meanwhile).
    fn wait_text(&self, css: &str, want: &str) -> String {
        wait_for(&format!("{css} to contain {want:?}"), WAIT, || {
            let v = self
                .try_call(
                    "POST",
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .ok()?;
            let id = v.as_object()?.values().next()?.as_str()?.to_owned();
            let t = self
                .try_call("GET", &format!("/element/{id}/text"), None)
                .ok()?;
            let t = t.as_str()?.to_owned();
            t.contains(want).then_some(t)
        })
    }

    /// Waits until the page's address contains `want` (after a form is sent).
    fn wait_url(&self, want: &str) {
        wait_for(&format!("the address to contain {want:?}"), WAIT, || {
            let v = self.try_call("GET", "/url", None).ok()?;
            v.as_str()?.contains(want).then_some(())
        });
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("element id")
            .to_owned()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                e.as_object()
                    .and_then(|o| o.values().next())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.call("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    fn click(&self, id: &str) {
        self.call("POST", &format!("/element/{id}/click"), None);
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or(""))
            .expect("png");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = if std::env::var_os("KX_UPDATE_SCREENSHOTS").is_some() {
            root.join("docs/screenshots")
        } else {
            root.join("target/screenshots")
        };
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Runs axe-core on the page shown and records its violations.
    fn check_accessibility(&self, page: &str) {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": format!("{}\nreturn true;", self.axe), "args": []})),
        );
        let r = self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": AXE_RUN, "args": []})),
        );
        assert!(r.get("error").is_none(), "axe-core on {page}: {r}");
        assert!(
            r["passes"].as_u64() > Some(10),
            "axe-core ran no checks on {page}: {r}"
        );
        for v in r["violations"].as_array().into_iter().flatten() {
            self.violations
                .borrow_mut()
                .push(format!("{page}: {}", v.as_str().unwrap_or("")));
        }
        self.checked.set(self.checked.get() + 1);
    }

    /// Runs `script` (synchronous WebDriver script) and returns its value.
    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn title(&self) -> String {
        self.call("GET", "/title", None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

#[test]
fn a_municipality_finds_compares_and_requests_offers_in_chromium() {
    let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromedriver is missing: run scripts/test, which installs Debian's chromium and chromium-driver");
    let t = TempDir::new("browser");

    // The demo federation, as a newcomer starts it.
    let base = free_base_port(0);
    let demo = Command::new(bin("kx"))
        .args(["demo", "--dir"])
        .arg(t.path().join("demo"))
        .args(["--base-port", &base.to_string()])
        .current_dir(t.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kx demo");
    let mut demo = Kill(demo);
    let stdout = demo.0.stdout.take().expect("stdout");
    let stderr = demo.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(line);
        }
    });
    let mut lines = Vec::new();
    wait_for("the demo to be ready", WAIT, || {
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        lines
            .iter()
            .any(|l| l.contains("Press Ctrl-C"))
            .then_some(())
    });
    let catalog = format!("http://127.0.0.1:{base}");
    try_what_the_demo_prints(&lines, &catalog, t.path());
    // Without a terminal, progress is one clean line per step.
    let mut steps: Vec<String> = Vec::new();
    wait_for("the demo's last step", WAIT, || {
        while let Ok(l) = erx.try_recv() {
            steps.push(l);
        }
        steps.iter().any(|l| l.starts_with("[6/6]")).then_some(())
    });
    let steps: Vec<&str> = steps
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with('['))
        .take_while(|l| !l.starts_with("[6/6]"))
        .collect();
    assert_eq!(
        steps,
        [
            "[1/6] keys and genesis",
            "[2/6] starting nodes",
            "[3/6] admitting providers",
            "[4/6] publishing offers",
            "[5/6] the exchange: municipalities, demand, requests, agreements"
        ],
        "progress without a terminal"
    );

    // Chromium through chromedriver.
    let port = free_port();
    let driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let _driver = Kill(driver);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let wd = format!("http://127.0.0.1:{port}");
    wait_for("chromedriver", WAIT, || {
        agent.get(&format!("{wd}/status")).call().ok().map(|_| ())
    });
    let profile = t.path().join("chrome-profile");
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                 format!("--user-data-dir={}", profile.display())]
    }}}});
    let mut r = agent
        .post(&format!("{wd}/session"))
        .header("content-type", "application/json")
        .send(caps.to_string().as_bytes())
        .expect("new session");
    let v: Value =
        serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json");
    let session = v["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {v}"))
        .to_owned();
    let d = Driver {
        base: wd,
        session,
        agent,
        axe: axe_source(),
        violations: Default::default(),
        checked: Default::default(),
    };

    // Search: municipality Paderborn, category Fachverfahren.
    d.go(&format!("{catalog}/"));
    assert!(d.title().contains("Angebote finden"));
    d.check_accessibility("search form");
    d.type_into("#gemeinde", "Paderborn");
    let option = d.find("#kategorie option[value='fachverfahren']");
    d.click(&option);
    let submit = d.find("#suchen");
    d.click(&submit);
    let heading = d.wait_text("#treffer", "Angebote für Paderborn");
    let count: usize = heading
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(count >= 2, "{heading}");
    let badges = d.find_all("article .badge");
    assert!(
        !badges.is_empty(),
        "every result shows whether a tender is needed"
    );
    d.screenshot("search");
    d.check_accessibility("search results");

    // The market survey of this search: the bundle its link downloads
    // verifies offline and shows the page's offers, in the page's order.
    let href = d.script("return document.querySelector('a[download]').href;");
    let href = href.as_str().expect("a download link for the survey");
    let titles: Vec<String> = serde_json::from_value(d.script(
        "return Array.from(document.querySelectorAll('article h2 a')).map(a => a.textContent);",
    ))
    .expect("titles");
    let bytes = ureq::get(href)
        .call()
        .expect("GET the survey")
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .expect("the bundle");
    let bundle = t.path().join("markterkundung.json");
    std::fs::write(&bundle, bytes).expect("write the bundle");
    let out = Command::new(bin("kx"))
        .args(["--json", "survey", "verify"])
        .arg(&bundle)
        .arg("--genesis")
        .arg(t.path().join("demo/genesis.json"))
        .output()
        .expect("run kx survey verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    let survey_titles: Vec<&str> = shown["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .filter_map(|o| o["body"]["title"].as_str())
        .collect();
    assert_eq!(shown["total"], count, "{shown}");
    assert_eq!(
        survey_titles[..titles.len().min(survey_titles.len())],
        titles[..],
        "the survey shows the catalog's offers in its order"
    );

    // Open the first offer.
    let search_url = d
        .call("GET", "/url", None)
        .as_str()
        .unwrap_or("")
        .to_owned();
    let first = d.find("article h2 a");
    d.click(&first);
    let h1 = d.text("h1");
    assert!(!h1.is_empty());
    let page = d.text("main");
    assert!(
        page.contains("Service-Level") && page.contains("Signatur selbst prüfen"),
        "{page}"
    );
    assert!(
        page.contains("Für Paderborn"),
        "the offer page keeps the municipality"
    );
    d.screenshot("offer");
    d.check_accessibility("offer");

    // Its provider.
    let provider = d.find("dd a[href^='/anbieter/']");
    d.click(&provider);
    let ptext = d.text("main");
    assert!(
        ptext.contains("Versorgungsgebiet") && ptext.contains("Angebote"),
        "{ptext}"
    );
    d.screenshot("provider");
    d.check_accessibility("provider");

    // The offer page leads back to the search, as it was.
    d.go(&search_url);
    d.wait_text("#treffer", "Angebote für Paderborn");
    let first = d.find("article h2 a");
    d.click(&first);
    let back = d.find("p.back a");
    assert_eq!(d.text("p.back a"), "← Zurück zur Suche");
    d.click(&back);
    d.wait_text("#treffer", &heading);
    let chosen = d.script("return document.querySelector('#kategorie').value;");
    assert_eq!(chosen, "fachverfahren", "the search comes back as it was");

    // OWL-IT's page: its offers by area, those inherited from GKD Paderborn
    // and krz marked, every offer link keeping Paderborn.
    let providers = ureq::get(&format!("{catalog}/v1/providers"))
        .call()
        .expect("providers")
        .body_mut()
        .read_to_string()
        .expect("body");
    let providers: Value = serde_json::from_str(&providers).expect("json");
    let owl = providers["providers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "OWL-IT")
        .and_then(|p| p["did"].as_str())
        .expect("OWL-IT")
        .to_owned();
    d.go(&format!("{catalog}/anbieter/{owl}?gemeinde=05774032"));
    d.wait_text("h1", "OWL-IT");
    assert!(d.find_all("main h3").len() >= 3, "grouped by area");
    let inherited = d.find_all("li .badge.inherited");
    assert!(!inherited.is_empty(), "inherited offers are marked");
    let unkept = d.script(
        "return [...document.querySelectorAll('main li a')]
           .filter(a => !a.href.includes('gemeinde=05774032')).length;",
    );
    assert_eq!(unkept, 0, "every offer link keeps Paderborn");
    d.check_accessibility("provider with inherited offers");

    // Compare two offers from the result list.
    d.go(&search_url);
    d.wait_text("#treffer", "Angebote für Paderborn");
    let boxes = d.find_all("input[name=o]");
    assert!(boxes.len() >= 2);
    d.click(&boxes[0]);
    d.click(&boxes[1]);
    let compare = d.find("form[action='/vergleich'] button");
    d.click(&compare);
    d.wait_text("h1", "vergleichen");
    let heads = d.find_all("thead th");
    assert_eq!(heads.len(), 3, "the row label and two offers");
    let table = d.text("table");
    assert!(
        table.contains("Preis") && table.contains("Vergabe") && table.contains("Kosten fünf Jahre"),
        "{table}"
    );
    // With Paderborn's figures entered, sorted by the five-year cost, offers
    // without a sum (price on request) last.
    for (field, value) in [
        ("#v-nutzer", "50"),
        ("#v-faelle", "1000"),
        ("#v-stunden", "100"),
        ("#v-standorte", "3"),
        ("#v-schnittstellen", "2"),
    ] {
        d.type_into(field, value);
    }
    let compute = d.find("#v-rechnen");
    d.click(&compute);
    d.wait_url("standorte=3");
    let five = d.script(
        "return [...document.querySelectorAll('tbody tr')]
           .find(r => r.querySelector('th').textContent.startsWith('Kosten fünf Jahre'))
           .querySelectorAll('td').values().map(td => td.textContent).toArray();",
    );
    let sums: Vec<Option<u64>> = five
        .as_array()
        .expect("five-year row")
        .iter()
        .map(|v| euro_cents(v.as_str().unwrap_or("")))
        .collect();
    let mut sorted = sums.clone();
    sorted.sort_by_key(|c| (c.is_none(), *c));
    assert!(
        sums.iter().any(Option::is_some),
        "a sum for Paderborn: {five}"
    );
    assert_eq!(sums, sorted, "compare sorts by the five-year cost: {five}");
    d.screenshot("compare");
    d.check_accessibility("compare");

    // Paderborn's page: what it takes from whom.
    d.go(&format!("{catalog}/gemeinde/Paderborn"));
    d.wait_text("h1", "Gemeinde Paderborn");
    let takes = d.text("main");
    assert!(
        takes.contains("Was Paderborn bezieht") && takes.contains("OWL-IT"),
        "{takes}"
    );
    assert!(
        !d.find_all("tr.run").is_empty(),
        "running agreements are listed"
    );
    d.screenshot("municipality");
    d.check_accessibility("municipality");
    d.go(&format!("{catalog}/gemeinden"));
    d.wait_text("h1", "Gemeinden im Austausch");
    d.check_accessibility("municipalities");

    // Paderborn requests an offer it does not take yet, signing in the
    // browser with its key file.
    let api = |path: &str| -> Value {
        let mut r = ureq::get(&format!("{catalog}{path}")).call().expect("api");
        serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json")
    };
    let town = api("/v1/municipalities/05774032");
    let taken: Vec<String> = town["agreements"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(town["requests"].as_array().into_iter().flatten())
        .filter_map(|r| r["offer"]["record"].as_str().map(str::to_owned))
        .collect();
    let offers = api("/v1/offers?municipality=05774032&limit=200");
    let fresh = offers["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| {
            !taken.contains(&o["record"].as_str().unwrap_or("").to_owned())
                && o["uptake"]["remaining"].as_u64() > Some(0)
        })
        .expect("an offer Paderborn does not take");
    let offer_href = format!(
        "{catalog}/angebot/{}/{}?gemeinde=05774032",
        fresh["provider"]["did"].as_str().expect("did"),
        fresh["offer_id"].as_str().expect("id")
    );
    d.go(&offer_href);
    d.wait_text("#abrufen", "Abrufen");
    let command = d.text("#abruf-befehl");
    assert!(
        command.starts_with("kx request send"),
        "the equivalent command: {command}"
    );
    let key = t.path().join("demo/keys/municipalities/05774032.key");
    d.type_into("#schluessel", &key.display().to_string());
    // The demo's keys are encrypted (PKCS #8, PBES2) like real ones; the page
    // opens the file with WebCrypto.
    d.type_into("#passphrase", "kx-demo");
    let quantity = d.find("#menge");
    d.call("POST", &format!("/element/{quantity}/clear"), None);
    d.type_into("#menge", "25");
    d.type_into("#postfach", "vergabe@paderborn.example");
    // The reference is required; offers without a stated legal basis leave it empty.
    let reference = d.find("#fundstelle");
    d.call("POST", &format!("/element/{reference}/clear"), None);
    d.type_into("#fundstelle", "Vergabe 2026/17");
    d.screenshot("request-form");
    d.check_accessibility("request form");
    let invalid = d.call(
        "POST",
        "/execute/sync",
        Some(json!({"script": "return [...document.querySelectorAll('#abruf :invalid')].map(e => e.id).join(' ');", "args": []})),
    );
    assert_eq!(invalid, "", "form fields the browser would refuse");
    let send = d.find("#abrufen-knopf");
    d.click(&send);
    // Both outcomes ("Abruf gesendet", "Nicht gesendet – why") end the wait.
    let said = d.wait_text("#abruf-ergebnis", "gesendet");
    assert!(said.starts_with("Abruf gesendet"), "the form said: {said}");
    let id = said
        .split_whitespace()
        .find(|w| w.len() >= 64)
        .map(|w| w.trim_end_matches('.').to_owned())
        .expect("request id");
    let r = api(&format!("/v1/requests/{id}"));
    assert_eq!(r["buyer"]["name"], "Paderborn", "{r}");
    assert_eq!(r["status"], "open");
    assert_eq!(r["quantity"], 25);
    assert_eq!(r["offer"]["record"], fresh["record"]);
    assert_eq!(r["contact"]["mailbox"], "vergabe@paderborn.example");
    d.screenshot("request-sent");
    d.go(&format!("{catalog}/abruf/{id}"));
    d.wait_text("h1", "Abruf");
    d.check_accessibility("request");
    d.go(&format!("{catalog}/gemeinde/Paderborn"));
    let open = d.wait_text(
        "#abrufe + div",
        fresh["body"]["title"].as_str().expect("title"),
    );
    assert!(open.contains("offen"), "{open}");
    // The provider sees it among its incoming requests.
    d.go(&format!(
        "{catalog}/anbieter/{}/abrufe",
        r["responder"]["did"].as_str().expect("responder")
    ));
    d.wait_text("#offen + div", "Paderborn");
    d.screenshot("incoming");
    d.check_accessibility("incoming requests");

    // The transition: the map of the Kreise, coloured by take-up of E-Akte
    // offers, its table, the chart; a Kreis on the map leads to its
    // municipalities.
    d.go(&format!("{catalog}/uebergang"));
    d.wait_text("h1", "Der Übergang in Zahlen");
    let option = d.find("#kategorie option[value='e-akte-dms']");
    d.click(&option);
    let option = d.find("#karte option[value='nutzung']");
    d.click(&option);
    let show = d.find("#anzeigen");
    d.click(&show);
    d.wait_text("#karte-titel", "Nutzung");
    let areas = d.call(
        "POST",
        "/execute/sync",
        Some(json!({"script": "return document.querySelectorAll('figure.map svg a path').length;", "args": []})),
    );
    assert_eq!(areas, 53, "one area per Kreis and kreisfreie Stadt");
    let table = d.text("#kreise + div table");
    assert!(table.contains("Kreis Paderborn"), "{table}");
    d.screenshot("transition");
    d.check_accessibility("transition");
    // The map works with the keyboard: an area takes the focus, Enter opens it.
    let focused = d.script(
        "const a = document.querySelector(\"figure.map a[href='/gemeinden?kreis=05774']\");
         a.focus(); return document.activeElement === a;",
    );
    assert_eq!(focused, true, "a Kreis on the map takes the keyboard focus");
    let enter = "\u{E007}";
    d.call(
        "POST",
        "/actions",
        Some(
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": enter}, {"type": "keyUp", "value": enter}]}]}),
        ),
    );
    d.wait_text("h1", "Kreis Paderborn");
    assert!(
        d.text("table").contains("Altenbeken"),
        "every municipality of the Kreis"
    );
    d.check_accessibility("municipalities of a Kreis");

    // Paderborn's cost for an offer priced per inhabitant, with three sites
    // entered on the page: the same sums as the API's, the arithmetic shown.
    let priced = offers["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| {
            o["body"]["price_components"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["unit"] == "inhabitant"))
        })
        .expect("an offer priced per inhabitant");
    let (did, offer_id) = (
        priced["provider"]["did"].as_str().expect("did"),
        priced["offer_id"].as_str().expect("id"),
    );
    let detail = api(&format!(
        "/v1/offers/{did}/{offer_id}?municipality=05774032&sites=3"
    ));
    d.go(&format!(
        "{catalog}/angebot/{did}/{offer_id}?gemeinde=05774032"
    ));
    d.wait_text("#kosten", "Paderborn");
    d.type_into("#k-standorte", "3");
    let compute = d.find("#k-rechnen");
    d.click(&compute);
    d.wait_url("standorte=3");
    let first = euro(
        detail["cost"]["first_year_cents"]
            .as_u64()
            .expect("first year"),
    );
    d.wait_text("#kosten-jahr", &first);
    assert_eq!(
        d.text("#kosten-fuenf"),
        euro(
            detail["cost"]["five_years_cents"]
                .as_u64()
                .expect("five years")
        )
    );
    let table = d.text("table.cost");
    assert!(
        table.contains("× 151.633 Einwohner:innen") && table.contains("× 3 Standorte"),
        "the arithmetic is shown: {table}"
    );
    d.screenshot("offer-cost");
    d.check_accessibility("offer with cost");

    // The stewards' standards, and the offers that meet one.
    d.go(&format!("{catalog}/standards"));
    d.wait_text("h1", "KDN-Standards");
    let sections = d.find_all("section.standard");
    assert_eq!(
        sections.len(),
        api("/v1/standards")["standards"]
            .as_array()
            .map_or(0, Vec::len)
    );
    d.screenshot("standards");
    d.check_accessibility("standards");
    let meet = d.find("a[href='/?standard=kdn-meldewesen']");
    d.click(&meet);
    let total = api("/v1/offers?standard=kdn-meldewesen")["total"]
        .as_u64()
        .expect("total");
    assert!(total >= 1, "the demo has offers that meet it");
    d.wait_text("#treffer", &format!("{total} Angebot"));
    let met = d.find_all("article .badge.ok + a[href='/standards#std-kdn-meldewesen']");
    assert_eq!(
        met.len() as u64,
        total,
        "each result says it meets the standard"
    );
    d.check_accessibility("search by standard");

    // A search with no municipality match says so; an unknown page too.
    d.go(&format!("{catalog}/?gemeinde=Atlantis"));
    d.wait_text("[role=alert]", "Atlantis");
    d.check_accessibility("search without a match");
    d.go(&format!("{catalog}/gibt-es-nicht"));
    d.wait_text("[role=alert]", "Diese Seite gibt es nicht");
    d.check_accessibility("unknown page");

    let found = d.violations.borrow();
    assert!(
        found.is_empty(),
        "{} accessibility violations (axe-core, WCAG 2.1 AA) on the {} pages checked:\n{}",
        found.len(),
        d.checked.get(),
        found.join("\n")
    );
}

/// Runs every command `kx demo` suggests, exactly as printed, in the
/// directory it was started from: each must work (issue: commands printed
/// with a `kx` the shell cannot find).
fn try_what_the_demo_prints(lines: &[String], catalog: &str, cwd: &std::path::Path) {
    let tries: Vec<&str> = lines
        .iter()
        .skip_while(|l| l.as_str() != "Try:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim())
        .filter(|l| !l.starts_with("export "))
        .collect();
    assert!(tries.len() >= 6, "the demo suggests commands: {lines:?}");
    for command in tries {
        let out = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(cwd)
            .env("KX_NODE", catalog)
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "`{command}` as printed by kx demo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Cents as the catalog writes euros: 123456 → `1.234,56 €`.
fn euro(cents: u64) -> String {
    let mut whole = (cents / 100).to_string();
    let mut i = whole.len();
    while i > 3 {
        i -= 3;
        whole.insert(i, '.');
    }
    format!("{whole},{:02} €", cents % 100)
}

/// The cents of a euro amount as the catalog writes it, if it is one.
fn euro_cents(text: &str) -> Option<u64> {
    let digits = text.trim().strip_suffix(" €")?;
    let (whole, cents) = digits.split_once(',')?;
    let whole: u64 = whole.replace('.', "").parse().ok()?;
    Some(whole * 100 + cents.parse::<u64>().ok()?)
}
