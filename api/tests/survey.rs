//! Market-survey bundles (`specs/checkpoints.md` 8): a bundle verifies and
//! shows its result; every single-byte change, every removed record and a
//! checkpoint below the quorum fail with a named code; the vectors in
//! `specs/vectors/survey/` are what this code builds and answers.

#[path = "support/survey.rs"]
mod support;

use kx_api::survey::{self, SurveyCode};
use kx_protocol::VerifiedRecord;
use serde_json::Value;
use support::{bundle, cases, federation, parts, write};

#[test]
fn a_bundle_verifies_and_shows_what_paderborn_could_take() {
    let fed = federation();
    let bytes = bundle(&fed);
    let v = survey::verify(&bytes, &fed.genesis).expect("verifies");
    let offers: Vec<(&str, &str)> = v
        .rows
        .iter()
        .map(|r| (r.offer_id.as_str(), r.procurement.as_str()))
        .collect();
    assert_eq!(
        offers,
        [
            ("zz-ausweis", "in_house"),
            ("meldewesen", "in_house"),
            ("wahlen", "inter_municipal")
        ]
    );
    assert_eq!(v.cosigned.len(), 2);
    assert_eq!(v.records, fed.records.len());
}

#[test]
fn every_single_byte_change_is_detected_with_a_code() {
    let fed = federation();
    let bytes = bundle(&fed);
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..bytes.len() {
        // One other byte per position, varied over the positions: a
        // neighbouring character (most changes that keep the JSON valid) or
        // a byte far away.
        let b = bytes[i];
        let other = match i % 3 {
            0 => b ^ 0x01,
            1 => b.wrapping_add(1),
            _ => b ^ 0x80,
        };
        let mut m = bytes.clone();
        m[i] = other;
        match survey::verify(&m, &fed.genesis) {
            Ok(_) => panic!(
                "byte {i} changed from {:?} to {:?} went unnoticed",
                b as char, other as char
            ),
            Err(e) => *codes.entry(e.code.as_str().to_owned()).or_default() += 1,
        }
    }
    assert!(codes.len() > 5, "{codes:?}");
}

#[test]
fn every_removed_record_is_missing() {
    let fed = federation();
    let v = parts(&bundle(&fed));
    let n = v["records"].as_array().expect("records").len();
    for i in 0..n {
        let mut w = v.clone();
        let gone = w["records"].as_array_mut().expect("records").remove(i);
        let e = survey::verify(&write(&w), &fed.genesis).expect_err("a record removed");
        assert_eq!(
            e.code,
            SurveyCode::MissingRecord.into(),
            "record {i} ({}) removed: {e}",
            gone["kind"]
        );
    }
}

#[test]
fn the_survey_vectors_are_what_this_code_builds_and_answers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors/survey");
    let built = cases();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("specs/vectors/survey")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut want: Vec<String> = built.iter().map(|c| format!("{}.json", c.name)).collect();
    want.sort();
    assert_eq!(
        names, want,
        "run cargo run -p kx-api --example gen_survey_vectors"
    );
    for c in &built {
        let text = std::fs::read_to_string(dir.join(format!("{}.json", c.name))).expect("read");
        let file: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            file, c.json,
            "{} differs: run cargo run -p kx-api --example gen_survey_vectors",
            c.name
        );
        // And each reads as it says, from the file alone.
        let genesis =
            VerifiedRecord::from_bytes(file["genesis"].as_str().expect("genesis").as_bytes())
                .expect("genesis");
        let got = survey::verify(
            file["bundle"].as_str().expect("bundle").as_bytes(),
            &genesis,
        );
        match file["expected"]["error"].as_str() {
            Some(code) => assert_eq!(got.expect_err(&c.name).code.as_str(), code, "{}", c.name),
            None => {
                let v = got.expect(&c.name);
                let result: Vec<String> = v.rows.iter().map(|r| r.record.to_hex()).collect();
                assert_eq!(
                    serde_json::json!(result),
                    file["expected"]["result"],
                    "{}",
                    c.name
                );
            }
        }
    }
}
