//! Bad input (issue 10, invariant 5): property tests over the parsers a user's text reaches
//! (times, durations, zones, URL templates, cron, headers) and secret masking: no panic on any
//! input, and round-trips where they apply. The binary itself answers junk `--at` with exit 2,
//! never a panic (101).

mod common;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use common::Env;
use httpat::endpoint::parse_header;
use httpat::recurring::CronRule;
use httpat::secrets::{mask, mask_bytes, Secret};
use httpat::template::UrlTemplate;
use httpat::when::{parse_duration, parse_time, parse_zone, rfc3339};
use httpat::zone::Zone;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

/// Text near the formats the parsers expect, and plain junk.
fn time_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\\.[0-9]{0,12})?)?(Z|[+-][0-9]{1,2}:[0-9]{2})?",
        "\\+[0-9]{0,25} ?[a-zµ]{0,8}( [0-9]{1,5}[a-z]{1,3}){0,3}",
        "(now|NOW|Now|\\+|-|[ \t]{0,3}now[ \t]{0,3})",
        "[0-9+\\-:TZ. ]{0,30}",
    ]
}

fn duration_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25} ?(ns|us|µs|ms|s|m|h|d|w|M|y|years?|months?|weeks?|days?|min|sec)?( [0-9]{0,25}[a-z]{0,6}){0,4}",
    ]
}

fn cron_like() -> impl Strategy<Value = String> {
    let field = "(\\*|\\?|L|W|#|[0-9]{1,3}|\\*/[0-9]{1,3}|[0-9]{1,2}-[0-9]{1,2}(/[0-9]{1,2})?|[0-9]{1,2},[0-9]{1,2}|[A-Za-z]{3}|[0-9]L|[0-9]#[0-9]|[0-9]W)";
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(field, 1..8).prop_map(|fields| fields.join(" ")),
        "@(hourly|daily|weekly|monthly|yearly|annually|midnight|reboot|[a-z]{0,8})",
    ]
}

fn zone() -> impl Strategy<Value = Zone> {
    prop::sample::select(vec![
        "UTC",
        "Europe/Riga",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "America/Santiago",
    ])
    .prop_map(|name| parse_zone(name).expect("a known zone"))
}

/// An instant in the years the product accepts, to the millisecond.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970-01-01 .. 9999-12-31, in milliseconds.
    (0i64..253_402_300_799_999).prop_map(|ms| Utc.timestamp_millis_opt(ms).unwrap())
}

fn placeholder_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_time_parser_never_panics(text in time_like(), zone in prop::option::of(zone())) {
        let _ = parse_time(&text, now(), zone);
    }

    #[test]
    fn the_duration_and_zone_parsers_never_panic(text in duration_like(), name in any::<String>()) {
        let _ = parse_duration(&text);
        let _ = parse_zone(&name);
        let _ = parse_zone(&text);
    }

    #[test]
    fn a_rendered_rfc3339_time_parses_back_to_the_same_instant(
        at in instant(),
        offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59i32),
        zone in prop::option::of(zone()),
    ) {
        prop_assert_eq!(parse_time(&rfc3339(at), now(), zone.clone()).unwrap(), at);
        let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let local = at.with_timezone(&offset);
        for text in [
            local.to_rfc3339(),
            local.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        ] {
            match parse_time(&text, now(), zone.clone()) {
                Ok(parsed) => prop_assert_eq!(parsed, at, "{}", text),
                Err(e) => prop_assert!(
                    false,
                    "{} (the instant {}) was refused: {:#}", text, rfc3339(at), e
                ),
            }
        }
    }

    #[test]
    fn a_formatted_duration_parses_back_to_itself(
        secs in 0u64..(100 * 365 * 86_400),
        nanos in 0u32..1_000_000_000,
    ) {
        let duration = Duration::new(secs, nanos);
        let text = humantime::format_duration(duration).to_string();
        let parsed = parse_duration(&text);
        prop_assert!(parsed.is_ok(), "{} refused: {:?}", text, parsed);
        prop_assert_eq!(parsed.unwrap(), duration, "{}", text);
    }

    #[test]
    fn plus_a_duration_is_now_plus_that_duration(secs in 0u64..(50 * 365 * 86_400)) {
        let duration = Duration::from_secs(secs);
        let text = format!("+{}", humantime::format_duration(duration));
        prop_assert_eq!(
            parse_time(&text, now(), None).unwrap(),
            now() + chrono::Duration::from_std(duration).unwrap()
        );
    }

    #[test]
    fn url_templates_never_panic(
        url in prop_oneof![
            any::<String>(),
            "https?://[a-z0-9.:{}/?&=%_-]{0,40}",
            "http://h/[{}a-z\\-_ ]{0,20}",
        ],
        args in proptest::collection::btree_map("[a-z{}_-]{0,6}", any::<String>(), 0..4),
        with_query in any::<bool>(),
    ) {
        if let Ok(template) = UrlTemplate::parse(&url) {
            let args: Map<String, Value> =
                args.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let _ = template.placeholders();
            let _ = template.render(&args, with_query);
        }
    }

    #[test]
    fn a_rendered_placeholder_decodes_back_to_its_argument(
        names in proptest::collection::btree_set(placeholder_name(), 3..=3),
        values in proptest::collection::vec(any::<String>(), 3),
        extra in "[a-z]{1,8}",
        extra_value in any::<String>(),
    ) {
        let names: Vec<String> = names.into_iter().collect();
        prop_assume!(!names.contains(&extra));
        let url = format!(
            "http://127.0.0.1:8080/x/{{{}}}/y/{{{}}}?c={{{}}}",
            names[0], names[1], names[2]
        );
        let template = UrlTemplate::parse(&url).unwrap();
        let mut args = Map::new();
        for (name, value) in names.iter().zip(&values) {
            args.insert(name.clone(), Value::String(value.clone()));
        }
        let rendered = template.render(&args, false).unwrap();
        let rest = rendered.strip_prefix("http://127.0.0.1:8080/x/").unwrap();
        let (first, rest) = rest.split_once("/y/").unwrap();
        let (second, third) = rest.split_once("?c=").unwrap();
        for (segment, value) in [first, second, third].into_iter().zip(&values) {
            prop_assert!(!segment.contains(['/', '?', '#', '&', '=']), "{}", rendered);
            prop_assert_eq!(&percent_decode_str(segment).decode_utf8().unwrap(), value);
        }

        // An argument the URL does not use becomes a query parameter that decodes back too.
        args.insert(extra.clone(), Value::String(extra_value.clone()));
        let with_query = template.render(&args, true).unwrap();
        let query = with_query.split_once("?c=").unwrap().1;
        let pair = query.split('&').nth(1).unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        prop_assert_eq!(&percent_decode_str(name).decode_utf8().unwrap(), &extra);
        prop_assert_eq!(&percent_decode_str(value).decode_utf8().unwrap(), &extra_value);
    }

    #[test]
    fn the_cron_parser_never_panics(expression in cron_like(), zone in zone(), at in instant()) {
        if let Ok(rule) = CronRule::parse(&expression, zone) {
            let at = at.min(Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap());
            if let Ok(next) = rule.next_after(at) {
                prop_assert!(next > at, "{}: next after {} is {}", expression, at, next);
            }
            let _ = rule.latest_between(at - chrono::Duration::days(2), at);
            let _ = rule.count_between(at, at + chrono::Duration::hours(3));
        }
    }

    #[test]
    fn header_parsing_never_panics_and_keeps_what_it_accepts(
        text in any::<String>(),
        name in "[A-Za-z0-9!#%&'*+.^_`|~-]{1,20}",
        value in "[^\r\n$]{0,40}",
    ) {
        if let Ok((name, value)) = parse_header(&text) {
            prop_assert!(!name.is_empty());
            prop_assert!(!value.contains(['\r', '\n']), "{:?}", value);
        }
        let (parsed_name, parsed_value) = parse_header(&format!("{name}: {value}")).unwrap();
        prop_assert_eq!(parsed_name, name);
        prop_assert_eq!(parsed_value, value.trim());
    }

    #[test]
    fn a_masked_text_never_contains_the_secret(
        before in any::<String>(),
        after in any::<String>(),
        // What a token looks like: no `$`, `{` or `}`, which the `${NAME}` mark is made of.
        secret in "[A-Za-z0-9+/=._~:@!%^&*()-]{6,40}",
        name in "[A-Z_][A-Z0-9_]{0,15}",
        repeats in 1usize..4,
    ) {
        prop_assume!(!name.contains(&secret));
        let text = format!("{before}{}{after}", secret.repeat(repeats));
        let secrets = [Secret { name: name.as_str().into(), value: secret.as_str().into() }];
        let masked = mask(&text, &secrets);
        prop_assert!(!masked.contains(&secret), "{:?} masked as {:?}", text, masked);
        let marker = format!("${{{name}}}");
        prop_assert!(masked.contains(&marker));
        let bytes = mask_bytes(text.as_bytes().to_vec(), &secrets);
        // Bytes are masked as text is.
        prop_assert_eq!(&bytes, masked.as_bytes());
        let secret_bytes = secret.as_bytes();
        prop_assert!(
            !bytes.windows(secret_bytes.len()).any(|w| w == secret_bytes),
            "{:?} masked as {:?}", text, String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn masking_never_panics(
        text in any::<String>(),
        bytes in any::<Vec<u8>>(),
        secrets in proptest::collection::vec((any::<String>(), any::<String>()), 0..3),
    ) {
        let secrets: Vec<Secret> = secrets
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| Secret { name: name.into(), value: value.into() })
            .collect();
        let masked = mask(&text, &secrets);
        // Bytes are masked as text is, whatever the secrets.
        prop_assert_eq!(mask_bytes(text.into_bytes(), &secrets), masked.into_bytes());
        let _ = mask_bytes(bytes, &secrets);
    }
}

proptest! {
    // Each case runs the real binary: a few dozen are enough.
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn the_binary_answers_junk_at_values_with_exit_2_never_a_panic(text in time_like()) {
        prop_assume!(!text.contains('\0'));
        let utc = parse_zone("UTC").unwrap();
        // What the library accepts is a time, not junk.
        prop_assume!(parse_time(&text, now(), Some(utc)).is_err());
        let env = Env::new();
        env.register_release_roll();
        let at = format!("--at={text}");
        let out = env
            .cmd(&["schedule", "release-roll", &at, "--arg", "roll=CCT-0042"])
            .output()
            .expect("run httpat");
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert_eq!(out.status.code(), Some(2), "--at {:?}: {}", text, stderr);
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
        prop_assert!(out.stdout.is_empty(), "junk acknowledged: {:?}", out.stdout);
    }
}
