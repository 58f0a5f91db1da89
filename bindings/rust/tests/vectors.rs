//! The shared vectors of tests/unit/vectors (also used by the C unit tests
//! and the Python binding): topic and pattern syntax, matching, and the
//! record walker.  No device needed.
//!
//! The directory is $EVBUS_VECTORS, else ../../tests/unit/vectors from
//! this crate.
use std::collections::HashMap;
use std::path::PathBuf;

use evbus::{parse_records, Record};

fn vectors_dir() -> PathBuf {
    match std::env::var_os("EVBUS_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/unit/vectors"),
    }
}

fn read(name: &str) -> String {
    let p = vectors_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {}", p.display(), e))
}

/// `\xNN` escapes; everything else literal.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            assert!(i + 3 < b.len() && b[i + 1] == b'x', "bad escape in {:?}", s);
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape in {:?}", s)));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {:?}", s);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {:?}", s)))
        .collect()
}

/// Lines of topics.txt, split at tabs, comments and blanks dropped.
fn topic_lines() -> Vec<(usize, Vec<String>)> {
    read("topics.txt")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, l)| (n + 1, l.split('\t').map(str::to_string).collect()))
        .collect()
}

/// check_topic / check_pattern on one STR: a string that is not UTF-8
/// cannot be a &str at all, which counts as refused.
fn syntax_ok(kind: &str, raw: &[u8]) -> bool {
    let s = match std::str::from_utf8(raw) {
        Ok(s) => s,
        Err(_) => return false,
    };
    let r = if kind == "topic" { evbus::check_topic(s) } else { evbus::check_pattern(s) };
    match r {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{:?}: {}", s, e);
            false
        }
    }
}

fn run_syntax(kind: &str) {
    let mut n = 0;
    let mut failures = Vec::new();
    for (line, f) in topic_lines() {
        if f[0] != kind {
            continue;
        }
        assert_eq!(f.len(), 3, "topics.txt:{}: {:?}", line, f);
        let want = match f[1].as_str() {
            "ok" => true,
            "bad" => false,
            other => panic!("topics.txt:{}: {:?}", line, other),
        };
        let raw = unescape(&f[2]);
        if raw.contains(&0) {
            assert!(!want, "topics.txt:{}: a NUL must be bad", line);
        }
        if syntax_ok(kind, &raw) != want {
            failures.push(format!("topics.txt:{}: {} {:?} should be {}", line, kind, f[2], f[1]));
        }
        n += 1;
    }
    assert!(n > 50, "only {} {} vectors", n, kind);
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), n, failures.join("\n"));
}

#[test]
fn topic_vectors() {
    run_syntax("topic");
}

#[test]
fn pattern_vectors() {
    run_syntax("pattern");
}

#[test]
fn match_vectors() {
    let mut n = 0;
    let mut failures = Vec::new();
    for (line, f) in topic_lines() {
        if f[0] != "match" {
            continue;
        }
        assert_eq!(f.len(), 4, "topics.txt:{}: {:?}", line, f);
        let want = match f[1].as_str() {
            "yes" => true,
            "no" => false,
            other => panic!("topics.txt:{}: {:?}", line, other),
        };
        let p = String::from_utf8(unescape(&f[2])).expect("match pattern is UTF-8");
        let t = String::from_utf8(unescape(&f[3])).expect("match topic is UTF-8");
        match evbus::matches(&p, &t) {
            Ok(got) if got == want => {}
            other => failures.push(format!("topics.txt:{}: matches({:?}, {:?}) = {:?}, want {}", line, p, t, other, want)),
        }
        n += 1;
    }
    assert!(n > 10, "only {} match vectors", n);
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), n, failures.join("\n"));
}

struct Case {
    name: String,
    line: usize,
    buf: Vec<u8>,
    recs: Vec<(String, HashMap<String, String>)>,
    end: String,
}

fn record_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut cur: Option<Case> = None;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let (word, rest) = match l.find(' ') {
            Some(k) => (&l[..k], &l[k + 1..]),
            None => (l, ""),
        };
        match word {
            "case" => {
                assert!(cur.is_none(), "records.txt:{}: case inside a case", i + 1);
                cur = Some(Case { name: rest.to_string(), line: i + 1, buf: Vec::new(), recs: Vec::new(), end: String::new() });
            }
            "buf" => cur.as_mut().expect("buf outside a case").buf.extend(unhex(rest.trim())),
            "rec" => {
                let mut parts = rest.split(' ');
                let kind = parts.next().unwrap().to_string();
                let kv = parts
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_at(p.find('=').unwrap_or_else(|| panic!("records.txt:{}: {:?}", i + 1, p)));
                        (k.to_string(), v[1..].to_string())
                    })
                    .collect();
                cur.as_mut().expect("rec outside a case").recs.push((kind, kv));
            }
            "end" => {
                let mut c = cur.take().expect("end outside a case");
                c.end = rest.to_string();
                cases.push(c);
            }
            other => panic!("records.txt:{}: unknown line {:?}", i + 1, other),
        }
    }
    assert!(cur.is_none(), "records.txt: last case has no end");
    cases
}

fn event_fields(ev: &evbus::Event, flags_key: &str) -> Vec<(String, String)> {
    vec![
        ("seq".into(), ev.seq.to_string()),
        ("time_ns".into(), ev.time_ns.to_string()),
        ("mono_ns".into(), ev.mono_ns.to_string()),
        ("pid".into(), ev.pid.to_string()),
        ("tid".into(), ev.tid.to_string()),
        ("uid".into(), ev.uid.to_string()),
        ("gid".into(), ev.gid.to_string()),
        ("type".into(), ev.type_.to_string()),
        (flags_key.into(), ev.flags.to_string()),
        ("corr".into(), ev.corr.to_string()),
        ("parent".into(), ev.parent.to_string()),
    ]
}

/// (kind, key → value) of a decoded record, in the vectors' terms.
/// A record's kind, its numeric fields and its topic and payload.
type Described<'a> = (String, Vec<(String, String)>, Option<(&'a str, &'a [u8])>);

fn describe(r: &Record) -> Described<'_> {
    match r {
        Record::Event(ev) => ("event".into(), event_fields(ev, "flags"), Some((&ev.topic, &ev.payload))),
        Record::Lagged { flags, lost, first_seq, last_seq } => (
            "lagged".into(),
            vec![
                ("flags".into(), flags.to_string()),
                ("lost".into(), lost.to_string()),
                ("first_seq".into(), first_seq.to_string()),
                ("last_seq".into(), last_seq.to_string()),
            ],
            None,
        ),
        Record::Revoked { sub_id, reason, seq } => (
            "revoked".into(),
            vec![("sub_id".into(), sub_id.to_string()), ("reason".into(), reason.to_string()), ("seq".into(), seq.to_string())],
            None,
        ),
        Record::Request(rq) => {
            let mut f = vec![
                ("approver_id".into(), rq.approver_id.to_string()),
                ("id".into(), rq.id.to_string()),
                ("deadline_ns".into(), rq.deadline_ns.to_string()),
                ("req_flags".into(), rq.flags.to_string()),
            ];
            f.extend(event_fields(&rq.event, "flags"));
            ("request".into(), f, Some((&rq.event.topic, &rq.event.payload)))
        }
        Record::Cancelled { approver_id, reason, id } => (
            "cancelled".into(),
            vec![("approver_id".into(), approver_id.to_string()), ("reason".into(), reason.to_string()), ("id".into(), id.to_string())],
            None,
        ),
        Record::Unknown { kind, len } => {
            ("unknown".into(), vec![("kind".into(), kind.to_string()), ("len".into(), len.to_string())], None)
        }
    }
}

fn check_case(c: &Case) -> Result<(), String> {
    // Also from an odd address: parse_records copies into an aligned buffer.
    let mut shifted = vec![0u8; c.buf.len() + 1];
    shifted[1..].copy_from_slice(&c.buf);
    let parsed = parse_records(&shifted[1..]);
    if parsed.records.len() != c.recs.len() {
        return Err(format!("{} records, want {}: {:?}", parsed.records.len(), c.recs.len(), parsed.records));
    }
    for (i, (rec, (kind, want))) in parsed.records.iter().zip(&c.recs).enumerate() {
        let (got_kind, fields, tp) = describe(rec);
        if &got_kind != kind {
            return Err(format!("record {}: kind {}, want {}", i, got_kind, kind));
        }
        let fields: HashMap<String, String> = fields.into_iter().collect();
        for (k, v) in want {
            match k.as_str() {
                "topic" => {
                    let t = tp.map(|t| t.0.as_bytes().to_vec());
                    if t.as_deref() != Some(&unescape(v)[..]) {
                        return Err(format!("record {}: topic {:?}, want {:?}", i, t, v));
                    }
                }
                "payload" => {
                    let p = tp.map(|t| t.1.to_vec());
                    if p.as_deref() != Some(&unhex(v)[..]) {
                        return Err(format!("record {}: payload {:?}, want {}", i, p, v));
                    }
                }
                _ => match fields.get(k) {
                    Some(g) if g == v => {}
                    g => return Err(format!("record {}: {}={:?}, want {}", i, k, g, v)),
                },
            }
        }
    }
    let got_end = match &parsed.error {
        None => "ok".to_string(),
        Some(e) if e.raw_os_error() == Some(libc::EBADMSG) => "EBADMSG".to_string(),
        Some(e) => format!("{:?}", e),
    };
    if got_end != c.end {
        return Err(format!("end {}, want {}", got_end, c.end));
    }
    Ok(())
}

#[test]
fn record_vectors() {
    let cases = record_cases(&read("records.txt"));
    assert!(cases.len() >= 10, "only {} record cases", cases.len());
    assert!(cases.iter().any(|c| c.end == "EBADMSG") && cases.iter().any(|c| c.end == "ok"));
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check_case(c).err().map(|e| format!("records.txt:{}: case {}: {}", c.line, c.name, e)))
        .collect();
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// The parser above must itself catch a wrong expectation.
#[test]
fn record_vector_checker_catches_a_mismatch() {
    let text = "case t\nbuf 2800000002002800000000000000000005000000000000000a000000000000000e00000000000000\nrec lagged lost=6\nend ok\n";
    let cases = record_cases(text);
    assert_eq!(cases.len(), 1);
    assert!(check_case(&cases[0]).unwrap_err().contains("lost"));
    let ok = record_cases(&text.replace("lost=6", "lost=5 first_seq=10 last_seq=14 flags=0"));
    check_case(&ok[0]).unwrap();
    let bad_end = record_cases(&text.replace("lost=6", "lost=5").replace("end ok", "end EBADMSG"));
    assert!(check_case(&bad_end[0]).is_err());
}

#[test]
fn unescape_and_unhex() {
    assert_eq!(unescape(r"a\x5cb\x00"), b"a\\b\0");
    assert_eq!(unescape(""), b"");
    assert_eq!(unhex("00ff7a"), vec![0, 255, 0x7a]);
}
