//! The report's JSON against its documented schema, and the press-safe form.

use super::*;

const SCHEMA: &str = include_str!("../../../../docs/report-schema.json");

/// A small internal report: one platform, one suspended channel with the handle `h`.
pub(crate) fn sample() -> Report {
    let platform = PlatformFigures {
        name: "Telegram".into(),
        platform: "platforms/x".into(),
        kind: "INSTANT_MESSAGING".into(),
        links_requested_removal: 4,
        links_removed: 3,
        removal_rate_pct: 75,
        removal_rate: 0.75,
    };
    Report {
        form: Form::Internal,
        as_of: "2019-11-08T12:00:00+08:00".into(),
        time_zone: "Asia/Hong_Kong".into(),
        time_zone_abbreviation: "HKT".into(),
        recorded_before: None,
        first_case_received: Some("2019-06-14".into()),
        cases: Cases {
            total: 3,
            complaints_and_discovered: 2,
            complaints: 1,
            discovered_by_patrol: 1,
            agency_referrals: 0,
            enquiries: 1,
        },
        victims: Victims {
            police_and_families: 1,
            other: 1,
            police_and_families_pct: 50,
            other_pct: 50,
            by_category: BTreeMap::new(),
        },
        links: Links {
            platforms_involved: 1,
            links_involved: 4,
            suspended_channels: vec![SuspendedChannel {
                name: "channels/x".into(),
                platform: "Telegram".into(),
                handle: Some("h".into()),
                suspended_since: "2019-11-07".into(),
            }],
        },
        liaison: Liaison {
            platforms_written_to: 1,
            letters_sent: 1,
            notices_served: 1,
            links_requested_removal: 4,
            links_removed: 3,
            links_access_restricted: 0,
            removal_rate_pct: 75,
            removal_rate: 0.75,
            by_platform: vec![platform.clone()],
            most_active_platform: Some(platform),
            disclosure_requests: Disclosure { sent: 0, answered: 0, refused: 0, unanswered: 0 },
            injunction_notices: Served { notices: 0, platforms: 0, first_served: None, last_served: None },
            summonses: Summonses { considered: 0, issued: 0, platforms: 0 },
        },
        referrals: Referrals {
            cases_assessed: 1,
            cases_referred_to_police: 1,
            referrals_acknowledged: 0,
            by_outcome: BTreeMap::new(),
            cases_by_legal_basis: BTreeMap::from([("S64_2".to_owned(), 1)]),
        },
        pending_effects: BTreeMap::new(),
    }
}

/// Every object the schema describes has every key it requires, and no key it does not describe.
fn same_keys(schema: &serde_json::Value, value: &serde_json::Value, path: &str) {
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        let object = value.as_object().unwrap_or_else(|| panic!("{path} is not an object"));
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
        for key in &required {
            assert!(object.contains_key(*key), "{path}.{key} is required but not written");
        }
        for key in object.keys() {
            assert!(props.contains_key(key), "{path}.{key} is written but not described");
        }
        for (key, sub) in props.iter().filter(|(key, _)| object.contains_key(*key)) {
            same_keys(sub, &object[key], &format!("{path}.{key}"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for v in array {
            same_keys(items, v, &format!("{path}[]"));
        }
    }
    if let (Some(options), false) = (schema.get("oneOf").and_then(|o| o.as_array()), value.is_null()) {
        same_keys(&options[0], value, path);
    }
}

#[test]
fn the_documented_schema_matches_what_the_report_writes() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    for form in [Form::Internal, Form::PressSafe] {
        let value = serde_json::to_value(sample().in_form(form)).unwrap();
        same_keys(&schema, &value, "report");
    }
    // The internal form writes the one key that is not required.
    let internal = serde_json::to_value(sample()).unwrap();
    assert_eq!(internal["links"]["suspended_channels"][0]["handle"], "h");
}

#[test]
fn the_press_safe_form_keeps_no_handle() {
    let press = sample().in_form(Form::PressSafe);
    assert_eq!(press.links.suspended_channels[0].handle, None);
    let json = serde_json::to_value(&press).unwrap();
    assert_eq!(json["form"], "press_safe");
    let channel = json["links"]["suspended_channels"][0].as_object().unwrap();
    assert!(!channel.contains_key("handle"), "{channel:?}");
    assert_eq!(channel["suspended_since"], "2019-11-07");
}
