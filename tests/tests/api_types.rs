//! `kx-api`'s types against `specs/http-api.yaml`: every answer type, filled in
//! full and left minimal, matches its schema, fills every property the schema
//! declares and reads back as itself; every code, enum and query parameter the
//! types know is the one the file lists, and no other.

use kx_api::error::{ApiCode, ErrorBody};
use kx_api::exchange::{
    AdmissionView, AgreementView, AgreementsPage, AgreementsQuery, AnswerView, DemandQuery,
    DemandStatus, DemandView, DemandsPage, EndView, MunicipalitiesList, MunicipalitiesQuery,
    MunicipalityDetail, MunicipalityView, OfferRef, ReasonView, RequestView, RequestsPage,
    RequestsQuery,
};
use kx_api::query::{AtQuery, DemandKey, RecordsQuery};
use kx_api::transition::{
    BreakEvenView, CategoryFigures, CategoryRef, Figures, MonthFigures, RegionFigures,
    TransitionQuery, TransitionView,
};
use kx_api::views::{
    AlarmView, AuthorView, BuyerKind, BuyerRef, CheckpointStatus, CheckpointSubmit,
    CheckpointVerdictView, CheckpointView, HealthView, LogHead, MunicipalityRef, OfferView,
    OffersPage, PeerView, ProcurementView, ProfileView, ProviderDetail, ProviderRef,
    ProviderSummary, ProviderView, ProvidersList, ReadyView, RecordsPage, StandardsList,
    StatusView, SubmitResult, SubmitStatus, SuccessorView, SyncView, TakerView, UptakeView,
    VersionView, WithdrawalView,
};
use kx_api::{ApiError, OfferCursor, OfferQuery, SearchQuery};
use kx_protocol::body::{
    BuyerBasisKind, Delivery, Kind, LegalBasisKind, OfferBody, PriceModel, ProfileBody,
    WithdrawBody,
};
use kx_protocol::geo::Procurement;
use kx_protocol::registry::{AgreementStatus, OfferStatus, RequestStatus, Standing};
use kx_protocol::{Did, GateCode, Hash32, RecordCode, SecretKey, Timestamp};
use kx_tests::openapi::OpenApi;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Debug;

fn did(n: u8) -> Did {
    SecretKey::from_seed([n; 32]).expect("key").did().clone()
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn offer_body(full: bool) -> OfferBody {
    let mut v = json!({
        "offer_id": "meldewesen-hosting", "version": 2,
        "title": "Einwohnermeldewesen", "summary": "Betrieb", "description": "Hosting",
        "category": "einwohnerwesen", "ozg_ids": ["10124"], "leika_keys": ["99115005104000"],
        "regions": ["05158"], "delivery": "hosting",
        "sla": {"availability_bp": 9950, "support_hours": "Mo-Fr", "response_minutes": 60, "resolution_hours": 8},
        "pricing": {"model": "per_inhabitant_per_year", "amount_cents": 42, "currency": "EUR", "notes": ""},
        "capacity": 12, "certifications": ["iso27001-grundschutz"], "standards": ["xmeld"],
        "contacts": [{"customer_group": "kommunen", "name": "Vertrieb"}],
        "valid_from": "2026-01-01T00:00:00Z",
    });
    if full {
        v["contacts"] = json!([{"customer_group": "kommunen", "name": "Vertrieb", "email": "vertrieb@example.org", "phone": "0211 1"}]);
        v["valid_until"] = json!("2027-12-31T23:59:59Z");
        v["legal_basis"] = json!({"kind": "inter_municipal", "text": "§ 108 Abs. 6 GWB"});
        v["break_even"] = json!(5);
        v["contacts"][0]["regions"] = json!(["05774"]);
        v["price_components"] = json!([
            {"label": "Einführung", "charge": "once", "unit": "flat", "amount_cents": 150000, "optional": false},
            {"label": "Betrieb", "charge": "yearly", "unit": "inhabitant", "amount_cents": 35, "optional": false}
        ]);
        v["conforms_to"] = json!(["kdn-meldewesen"]);
    }
    serde_json::from_value(v).expect("offer body")
}

fn profile_body() -> ProfileBody {
    serde_json::from_value(json!({
        "name": "ITK Rheinland", "short_name": "ITK", "description": "Kommunaler IT-Dienstleister",
        "website": "https://example.org", "regions": ["05158"], "members": ["05158"],
        "certifications": ["iso27001"], "nodes": ["12D3KooW"],
        "contacts": [{"customer_group": "kommunen", "name": "Vertrieb", "email": "v@example.org", "phone": "1", "regions": ["05158"]}],
    }))
    .expect("profile body")
}

fn provider_ref(n: u8) -> ProviderRef {
    ProviderRef {
        did: did(n),
        name: format!("Anbieter {n}"),
    }
}

fn offer(full: bool) -> OfferView {
    let body = offer_body(full);
    OfferView {
        provider: provider_ref(10),
        shown_under: full.then(|| provider_ref(11)),
        offer_id: body.offer_id.clone(),
        version: body.version,
        record: Hash32([1; 32]),
        author: did(10),
        issued_at: ts("2026-01-15T09:00:00Z"),
        status: OfferStatus::Active,
        procurement: full.then(|| ProcurementView {
            municipality: MunicipalityRef {
                ags: "05774032".into(),
                name: "Paderborn".into(),
            },
            kind: Procurement::InterMunicipal,
            tender_free: true,
            label: Procurement::InterMunicipal.label_de().into(),
        }),
        history: full.then(|| {
            vec![VersionView {
                record: Hash32([1; 32]),
                version: 2,
                issued_at: ts("2026-01-15T09:00:00Z"),
                body: body.clone(),
            }]
        }),
        withdrawals: full.then(|| {
            vec![WithdrawalView {
                record: Hash32([2; 32]),
                body: WithdrawBody {
                    offer_id: body.offer_id.clone(),
                    version: 1,
                    reason: "ersetzt".parse().expect("reason"),
                },
            }]
        }),
        uptake: uptake(full),
        conformance: if full { conformance() } else { Vec::new() },
        cost: full.then(|| {
            kx_protocol::terms::cost(
                &body,
                &kx_api::Figures {
                    inhabitants: Some(152_531),
                    ..kx_api::Figures::default()
                },
            )
        }),
        contact: full.then(|| kx_api::views::ContactView {
            source: kx_protocol::terms::ContactSource::Offer,
            contact: body.contacts[0].clone(),
        }),
        body,
    }
}

/// A standard met, one failed on every kind of check, a retired and an
/// undefined one.
fn conformance() -> Vec<kx_protocol::terms::Conformance> {
    serde_json::from_value(json!([
        {"standard_id": "kdn-meldewesen", "status": "met", "checks": [
            {"criterion": "category", "required": "einwohnerwesen", "offered": "einwohnerwesen", "met": true}
        ]},
        {"standard_id": "kdn-e-akte", "status": "not_met", "checks": [
            {"criterion": "certification", "required": "bsi-c5", "offered": null, "met": false},
            {"criterion": "delivery", "required": ["saas"], "offered": "hosting", "met": false},
            {"criterion": "availability", "required": 9990, "offered": 9950, "met": false}
        ]},
        {"standard_id": "alt", "status": "retired", "checks": []},
        {"standard_id": "gibt-es-nicht", "status": "undefined", "checks": []}
    ]))
    .expect("conformance")
}

fn standards() -> StandardsList {
    serde_json::from_value(json!({"standards": [
        {"standard_id": "kdn-meldewesen", "record": "01".repeat(32), "declared": 4, "met": 2,
         "body": {"prev_action": "02".repeat(32), "standard_id": "kdn-meldewesen", "title": "Meldewesen",
                  "description": "", "category": "einwohnerwesen", "certifications": ["iso27001-grundschutz"],
                  "standards": ["xmeld"], "delivery": ["hosting"], "min_sla": {"availability_bp": 9950, "response_minutes": 60, "resolution_hours": 8},
                  "approvals": [{"steward": did(1).as_str(), "sig": "A".repeat(86)}]}},
        {"standard_id": "alt", "record": "03".repeat(32), "retired": "04".repeat(32), "declared": 0, "met": 0,
         "body": {"prev_action": "02".repeat(32), "standard_id": "alt", "title": "Alt",
                  "description": "", "category": "e-akte", "certifications": [],
                  "standards": [], "delivery": [], "min_sla": {},
                  "approvals": [{"steward": did(1).as_str(), "sig": "A".repeat(86)}]}}
    ]}))
    .expect("standards")
}

fn municipality_buyer() -> BuyerRef {
    BuyerRef {
        did: did(60),
        name: "Paderborn".into(),
        kind: BuyerKind::Municipality,
        ags: Some("05774032".into()),
    }
}

fn uptake(full: bool) -> UptakeView {
    UptakeView {
        declared: 12,
        taken: if full { 2 } else { 0 },
        remaining: if full { 10 } else { 12 },
        takers: if full {
            vec![
                TakerView {
                    name: "Paderborn".into(),
                    ags: Some("05774032".into()),
                    did: None,
                },
                TakerView {
                    name: "KRZN".into(),
                    ags: None,
                    did: Some(did(11)),
                },
            ]
        } else {
            Vec::new()
        },
        buyers: if full {
            vec![municipality_buyer()]
        } else {
            Vec::new()
        },
    }
}

fn request(full: bool) -> RequestView {
    let body = offer_body(true);
    RequestView {
        id: Hash32([20; 32]),
        issued_at: ts("2026-01-15T09:00:00Z"),
        buyer: municipality_buyer(),
        offer: OfferRef {
            provider: provider_ref(10),
            offer_id: body.offer_id.clone(),
            version: body.version,
            record: Hash32([1; 32]),
            title: body.title.to_string(),
            category: body.category.clone(),
            pricing: body.pricing.clone(),
        },
        responder: provider_ref(10),
        takers: if full {
            uptake(true).takers
        } else {
            uptake(true).takers[..1].to_vec()
        },
        quantity: 42000,
        start: ts("2026-02-01T00:00:00Z"),
        stop: full.then(|| ts("2027-02-01T00:00:00Z")),
        term_months: full.then_some(12),
        legal_basis: serde_json::from_value(
            json!({"kind": "inter_municipal", "reference": "§ 108 Abs. 6 GWB"}),
        )
        .expect("basis"),
        note: "Zum Jahreswechsel".into(),
        contact: serde_json::from_value(if full {
            json!({"role": "Vergabestelle", "mailbox": "vergabe@example.org"})
        } else {
            json!({"role": "Vergabestelle"})
        })
        .expect("contact"),
        status: if full {
            RequestStatus::Accepted
        } else {
            RequestStatus::Open
        },
        withdrawal: full.then(|| ReasonView {
            record: Hash32([21; 32]),
            issued_at: ts("2026-01-16T09:00:00Z"),
            reason: "entfallen".into(),
        }),
        answer: full.then(|| AnswerView {
            record: Hash32([22; 32]),
            accepted: false,
            by: provider_ref(11),
            issued_at: ts("2026-01-16T09:00:00Z"),
            reason: Some("ausgelastet".into()),
        }),
        end: full.then(|| EndView {
            record: Hash32([23; 32]),
            by: did(60),
            effective_at: ts("2026-09-30T23:59:59Z"),
            reason: "Wechsel".into(),
        }),
        agreement: full.then(|| AgreementView {
            status: AgreementStatus::Active,
            counts_against: OfferCursor {
                provider: did(10),
                offer_id: body.offer_id.clone(),
            },
        }),
    }
}

fn demand(full: bool) -> DemandView {
    let mut body = json!({
        "demand_id": "e-akte-2027", "version": 1, "title": "E-Akte", "ozg_ids": [], "leika_keys": [],
        "quantity": {"users": 180}, "wanted_from": "2026-07-01T00:00:00Z", "note": "",
        "contact": {"role": "Digitalisierung"},
    });
    if full {
        body["category"] = json!("e-akte");
        body["ozg_ids"] = json!(["10124"]);
        body["leika_keys"] = json!(["99115005104000"]);
        body["quantity"] =
            json!({"inhabitants": 150000, "users": 180, "cases_per_year": 9000, "sites": 3});
        body["wanted_until"] = json!("2031-06-30T23:59:59Z");
        body["contact"] = json!({"role": "Digitalisierung", "mailbox": "digital@example.org"});
    }
    DemandView {
        buyer: municipality_buyer(),
        demand_id: "e-akte-2027".parse().expect("id"),
        version: 1,
        record: Hash32([24; 32]),
        issued_at: ts("2026-01-15T09:00:00Z"),
        status: DemandStatus::Open,
        body: serde_json::from_value(body).expect("demand body"),
    }
}

fn transition(full: bool) -> TransitionView {
    let figures = Figures {
        municipalities: 10,
        offers: 4,
        providers: 2,
        covered: 9,
        open_demand: 3,
        gaps: 1,
        active_agreements: 5,
        takers: 4,
        exchange: 2,
    };
    let category = CategoryRef {
        slug: "e-akte-dms".parse().expect("slug"),
        name: "E-Akte, DMS & Archiv".into(),
    };
    TransitionView {
        at: ts("2026-11-24T12:00:00Z"),
        category: full.then(|| category.clone()),
        totals: figures.clone(),
        between_providers: 1,
        regions: vec![RegionFigures {
            ags: "05774".into(),
            name: "Kreis Paderborn".into(),
            level: "kreis".into(),
            figures: figures.clone(),
            gap_municipalities: if full {
                vec![MunicipalityRef {
                    ags: "05774032".into(),
                    name: "Paderborn".into(),
                }]
            } else {
                Vec::new()
            },
        }],
        categories: vec![CategoryFigures { category, figures }],
        break_even: vec![BreakEvenView {
            provider: ProviderRef {
                did: did(61),
                name: "OWL-IT".into(),
            },
            offer_id: "e-akte".parse().expect("id"),
            title: "E-Akte als Service".into(),
            record: Hash32([7; 32]),
            takers: 3,
            break_even: 5,
            self_sustaining: false,
        }],
        months: (1..=24)
            .map(|i| MonthFigures {
                month: format!("{}-{:02}", 2024 + (i + 10) / 12, (i + 10) % 12 + 1),
                started: i,
                ended: i / 2,
            })
            .collect(),
    }
}

fn municipality(full: bool) -> MunicipalityView {
    MunicipalityView {
        ags: "05774032".into(),
        name: "Paderborn".into(),
        kreis: MunicipalityRef {
            ags: "05774".into(),
            name: "Paderborn".into(),
        },
        population: 157000,
        admission: full.then(|| AdmissionView {
            did: did(60),
            standing: Standing::Active,
            keys: vec![did(60)],
        }),
        agreements: 3,
        open_requests: 1,
        demands: 1,
    }
}

fn provider<O>(full: bool, offers: O) -> ProviderView<O> {
    ProviderView {
        did: did(10),
        name: "ITK Rheinland".into(),
        standing: Standing::Active,
        keys: vec![did(10), did(12)],
        profile: full.then(|| ProfileView {
            record: Hash32([3; 32]),
            body: profile_body(),
        }),
        offers,
        successor: full.then(|| SuccessorView {
            did: did(11),
            name: "OWL-IT".into(),
            effective_at: ts("2024-01-01T00:00:00Z"),
            offer_ids: vec!["meldewesen-hosting".parse().expect("id")],
            record: Hash32([4; 32]),
        }),
        predecessors: if full {
            vec![provider_ref(13)]
        } else {
            Vec::new()
        },
    }
}

/// Checks instances of one type against the schema `name`: each matches, all
/// together fill every declared property, and each reads back as itself.
fn check<T: Serialize + DeserializeOwned + PartialEq + Debug>(
    api: &OpenApi,
    name: &str,
    instances: &[T],
    opaque: &[&str],
) {
    let schema = api.schema(name);
    let mut present = BTreeSet::new();
    for t in instances {
        let v = serde_json::to_value(t).expect("serialise");
        if let Err(e) = api.validate(schema, &v, "$") {
            panic!("{name}: {e}\n{v:#}");
        }
        OpenApi::present(&v, "$", opaque, &mut present);
        let back: T = serde_json::from_value(v).expect("read back");
        assert_eq!(&back, t, "{name} reads back as itself");
    }
    let mut declared = BTreeSet::new();
    api.declared(schema, "$", &mut declared);
    let missing: Vec<&String> = declared
        .iter()
        .filter(|p| !present.contains(*p) && !opaque.iter().any(|o| p.starts_with(o)))
        .collect();
    assert!(
        missing.is_empty(),
        "{name}: the type never fills {missing:?}"
    );
}

#[test]
fn every_answer_type_fills_and_matches_its_schema() {
    let api = OpenApi::load();
    check(&api, "Offer", &[offer(true), offer(false)], &[]);
    let cursor = OfferCursor {
        provider: did(10),
        offer_id: "meldewesen-hosting".parse().expect("id"),
    };
    check(
        &api,
        "OffersPage",
        &[
            OffersPage {
                offers: vec![offer(true), offer(false)],
                total: 7,
                next_cursor: Some(cursor),
            },
            OffersPage {
                offers: Vec::new(),
                total: 0,
                next_cursor: None,
            },
        ],
        &[],
    );
    check(&api, "StandardsList", &[standards()], &[]);
    let summaries: Vec<ProviderSummary> = vec![provider(true, 3), provider(false, 0)];
    check(&api, "Provider", &summaries, &[]);
    check(
        &api,
        "ProvidersList",
        &[ProvidersList {
            providers: summaries,
        }],
        &[],
    );
    let details: Vec<ProviderDetail> = vec![
        provider(true, vec![offer(true)]),
        provider(false, Vec::new()),
    ];
    check(&api, "ProviderDetail", &details, &[]);
    check(
        &api,
        "CheckpointVerdict",
        &[
            CheckpointVerdictView {
                status: CheckpointStatus::Alarm,
                reason: Some("the log does not follow".into()),
            },
            CheckpointVerdictView {
                status: CheckpointStatus::NotHeld,
                reason: None,
            },
        ],
        &[],
    );
    check(
        &api,
        "CheckpointSubmit",
        &[CheckpointSubmit {
            note: "kx/00/did:key:z6Mk\n3\nAAAA\n\n".into(),
            frontier: json!({}),
        }],
        &["$.frontier"],
    );
    check(
        &api,
        "Checkpoint",
        &[CheckpointView {
            note: "kx/00/did:key:z6Mk\n3\nAAAA\n\n\u{2014} kx/00/did:key:z6Mk AAAA\n".into(),
            frontier: json!({
                "federation": Hash32([1; 32]).to_hex(),
                "governance": Hash32([2; 32]).to_hex(),
                "logs": [[did(10).as_str(), 3, Hash32([3; 32]).to_hex()]],
            }),
        }],
        &["$.frontier.logs[]"],
    );
    check(
        &api,
        "Author",
        &[
            AuthorView {
                did: did(12),
                head: Some(LogHead {
                    seq: 3,
                    id: Hash32([5; 32]),
                }),
                identity: Some(did(10)),
                current_key: Some(did(12)),
                standing: Standing::Active,
                steward: false,
                allowance: Some(10_000),
                next_position: Some(7),
            },
            AuthorView {
                did: did(20),
                head: None,
                identity: None,
                current_key: None,
                standing: Standing::NotMember,
                steward: true,
                allowance: None,
                next_position: None,
            },
        ],
        &[],
    );
    let peer = |synced: bool| PeerView {
        peer_id: "12D3KooWxyz".into(),
        address: "/ip4/127.0.0.1/tcp/4001".into(),
        agent: synced.then(|| "kx-node/0.1.0".into()),
        last_sync: synced.then(|| SyncView {
            at: ts("2026-11-24T08:00:00Z"),
            received: 4,
            complete: true,
        }),
    };
    check(
        &api,
        "Status",
        &[StatusView {
            federation: Hash32([6; 32]),
            peer_id: "12D3KooWabc".into(),
            records: 200,
            state_digest: Hash32([7; 32]),
            governance_head: Hash32([8; 32]),
            stewards: vec![did(1)],
            threshold: 1,
            observers: vec![
                serde_json::from_value(
                    serde_json::json!({"peer_id": "12D3KooWobs", "name": "KDN Prüfstelle"}),
                )
                .expect("observer"),
            ],
            witnesses: vec![
                serde_json::from_value(
                    serde_json::json!({"name": "witness.kdn.example/w1", "key": did(81).as_str()}),
                )
                .expect("witness"),
            ],
            quorum: 1,
            providers: 6,
            offers: 180,
            in_sync: true,
            observer: false,
            peers: vec![peer(true), peer(false)],
            alarms: vec![AlarmView {
                origin: "kx/00/did:key:z6Mk".into(),
                at: ts("2026-11-24T08:00:00Z"),
                reason: "the log of did:key:z6Mk does not follow".into(),
                earlier: "kx/00/did:key:z6Mk\n3\nAAAA\n\n".into(),
                later: "kx/00/did:key:z6Mk\n2\nBBBB\n\n".into(),
            }],
        }],
        &[],
    );
    check(&api, "Health", &[HealthView { alive: true }], &[]);
    check(
        &api,
        "Ready",
        &[ReadyView {
            ready: true,
            records: 200,
            peers: 2,
        }],
        &[],
    );
    check(
        &api,
        "SubmitResult",
        &SubmitStatus::ALL
            .iter()
            .map(|status| SubmitResult {
                id: Hash32([9; 32]),
                status: *status,
            })
            .collect::<Vec<_>>(),
        &[],
    );
    check(&api, "Request", &[request(true), request(false)], &[]);
    check(
        &api,
        "RequestsPage",
        &[RequestsPage {
            requests: vec![request(true), request(false)],
            next_cursor: Some(Hash32([20; 32])),
        }],
        &[],
    );
    check(
        &api,
        "AgreementsPage",
        &[AgreementsPage {
            agreements: vec![request(true), request(false)],
            next_cursor: None,
        }],
        &[],
    );
    check(&api, "Demand", &[demand(true), demand(false)], &[]);
    check(
        &api,
        "DemandsPage",
        &[DemandsPage {
            demands: vec![demand(true), demand(false)],
            next_cursor: Some(DemandKey {
                buyer: did(60),
                demand_id: "e-akte-2027".parse().expect("id"),
            }),
        }],
        &[],
    );
    check(
        &api,
        "MunicipalitiesList",
        &[MunicipalitiesList {
            municipalities: vec![municipality(true), municipality(false)],
        }],
        &[],
    );
    check(
        &api,
        "MunicipalityDetail",
        &[MunicipalityDetail {
            municipality: municipality(true),
            agreements: vec![request(true), request(false)],
            requests: vec![request(true), request(false)],
            demands: vec![demand(true), demand(false)],
        }],
        &[],
    );
    check(
        &api,
        "Transition",
        &[transition(true), transition(false)],
        &[],
    );
    let codes = every_code();
    check(
        &api,
        "Error",
        &codes
            .iter()
            .map(|c| ErrorBody {
                error: ApiError::new(kx_api::ErrorCode::from_text(c), "why"),
            })
            .collect::<Vec<_>>(),
        &[],
    );
}

#[test]
fn a_page_of_records_is_records_exactly_as_signed() {
    let api = OpenApi::load();
    let steward = SecretKey::from_seed([1; 32]).expect("key");
    let genesis = kx_protocol::author::genesis(
        "KDN Test".parse().expect("name"),
        vec![steward.did().clone()],
        1,
        &steward,
        &[&steward],
        ts("2026-01-15T09:00:00Z"),
    )
    .expect("genesis");
    let text = String::from_utf8(genesis.canonical_json().to_vec()).expect("utf8");
    let page = RecordsPage {
        records: vec![serde_json::value::RawValue::from_string(text.clone()).expect("raw")],
        next_cursor: Some(genesis.id()),
    };
    let v = serde_json::to_value(&page).expect("serialise");
    api.validate(api.schema("RecordsPage"), &v, "$")
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = serde_json::to_vec(&page).expect("serialise");
    let back: RecordsPage = serde_json::from_slice(&bytes).expect("read back");
    assert_eq!(
        back.records[0].get(),
        text,
        "the record's bytes pass unchanged"
    );
    assert_eq!(back.next_cursor, Some(genesis.id()));
}

/// Every code the node may answer with, as text.
fn every_code() -> BTreeSet<String> {
    RecordCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(GateCode::ALL.iter().map(|c| c.as_str()))
        .chain(ApiCode::ALL.iter().map(|c| c.as_str()))
        .chain(
            kx_protocol::checkpoint::CheckpointCode::ALL
                .iter()
                .map(|c| c.as_str()),
        )
        .chain(kx_api::survey::SurveyCode::ALL.iter().map(|c| c.as_str()))
        .map(str::to_owned)
        .collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn texts<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

#[test]
fn codes_and_enums_are_the_ones_the_file_lists() {
    let api = OpenApi::load();
    let s = |name: &str, ptr: &str| {
        api.schema(name)
            .pointer(ptr)
            .unwrap_or_else(|| panic!("{name}{ptr}"))
            .clone()
    };
    assert_eq!(
        strings(&s("Error", "/properties/error/properties/code/enum")),
        every_code()
    );
    assert_eq!(
        strings(&s("Offer", "/properties/status/enum")),
        texts(OfferStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("Standing", "/enum")),
        texts(Standing::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("SubmitResult", "/properties/status/enum")),
        texts(SubmitStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("Procurement", "/properties/kind/enum")),
        texts(Procurement::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("OfferBody", "/properties/delivery/enum")),
        texts(Delivery::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("Pricing", "/properties/model/enum")),
        texts(PriceModel::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s(
            "OfferBody",
            "/properties/legal_basis/properties/kind/enum"
        )),
        texts(LegalBasisKind::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("Record", "/properties/kind/enum")),
        texts(Kind::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("Request", "/properties/status/enum")),
        texts(RequestStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s(
            "Request",
            "/properties/agreement/properties/status/enum"
        )),
        texts(AgreementStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s(
            "Request",
            "/properties/legal_basis/properties/kind/enum"
        )),
        texts(BuyerBasisKind::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("Demand", "/properties/status/enum")),
        texts(DemandStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("BuyerRef", "/properties/kind/enum")),
        texts(BuyerKind::ALL.iter().map(|x| x.as_str()))
    );
    use kx_protocol::body::{Charge, PriceUnit};
    use kx_protocol::terms::{ConformanceStatus, Criterion};
    assert_eq!(
        strings(&s("Conformance", "/properties/status/enum")),
        texts(ConformanceStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s(
            "Conformance",
            "/properties/checks/items/properties/criterion/enum"
        )),
        texts(Criterion::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("PriceComponent", "/properties/charge/enum")),
        texts(Charge::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        strings(&s("PriceComponent", "/properties/unit/enum")),
        texts(PriceUnit::ALL.iter().map(|x| x.as_str()))
    );
    let param_enum = |path: &str, name: &str| {
        api.parameter("GET", path, name)
            .pointer("/schema/enum")
            .map(strings)
            .unwrap_or_else(|| panic!("{path} {name}"))
    };
    assert_eq!(
        param_enum("/v1/requests", "status"),
        texts(RequestStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        param_enum("/v1/agreements", "status"),
        texts(AgreementStatus::ALL.iter().map(|x| x.as_str()))
    );
    assert_eq!(
        param_enum("/v1/demand", "status"),
        texts(DemandStatus::ALL.iter().map(|x| x.as_str()))
    );
}

#[test]
fn query_parameters_are_the_ones_the_file_lists() {
    let api = OpenApi::load();
    let id = "did:key:z6Mkj1MDZKcfx9AX5CeXHdysiGkRLzBbALyFuShD6wNeY1E3";
    for (path, params) in [
        ("/v1/offers".to_owned(), SearchQuery::PARAMS),
        ("/v1/survey".to_owned(), kx_api::SurveyQuery::PARAMS),
        (format!("/v1/offers/{id}/o1"), OfferQuery::PARAMS),
        ("/v1/providers".to_owned(), AtQuery::PARAMS),
        ("/v1/standards".to_owned(), AtQuery::PARAMS),
        (format!("/v1/providers/{id}"), AtQuery::PARAMS),
        ("/v1/records".to_owned(), RecordsQuery::PARAMS),
        ("/v1/requests".to_owned(), &RequestsQuery::PARAMS),
        ("/v1/agreements".to_owned(), &AgreementsQuery::PARAMS),
        ("/v1/demand".to_owned(), DemandQuery::PARAMS),
        ("/v1/municipalities".to_owned(), MunicipalitiesQuery::PARAMS),
        ("/v1/transition".to_owned(), TransitionQuery::PARAMS),
        ("/v1/municipalities/Paderborn".to_owned(), AtQuery::PARAMS),
        (format!("/v1/requests/{}", "ab".repeat(32)), AtQuery::PARAMS),
    ] {
        assert_eq!(
            api.query_parameters("GET", &path),
            texts(params.iter().copied()),
            "{path}"
        );
    }
}
