//! JUnit XML of a run: one test case per threshold (named as written, `during` and `over`
//! included), so CI systems show each as passed or failed; the risk scores, remediation and
//! mitigations as suite properties. Written by hand; every text is escaped.

use super::run_record::RunRecord;
use std::fmt::Write;

/// The JUnit XML document of `record`.
pub fn junit_xml(record: &RunRecord) -> String {
    let failures = record.thresholds.iter().filter(|t| !t.passed).count();
    let errors = usize::from(!record.completed);
    // An incomplete run adds one `run` case carrying the error.
    let tests = record.thresholds.len() + errors;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"pfi\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        record.wall_ms / 1000.0
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        escape(&record.experiment),
        record.wall_ms / 1000.0
    );
    let properties: String = properties(record)
        .iter()
        .map(|(k, v)| format!("<property name=\"{}\" value=\"{}\"/>", escape(k), escape(v)))
        .collect();
    let _ = writeln!(xml, "    <properties>{properties}</properties>");
    for threshold in &record.thresholds {
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&record.experiment),
            escape(&threshold.text)
        );
        if threshold.passed && threshold.inconclusive {
            // Too few samples to say: reported as skipped, with how many there were.
            let _ = writeln!(
                xml,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                escape(&threshold.outcome())
            );
            continue;
        }
        if threshold.passed {
            xml.push_str("/>\n");
            continue;
        }
        let measured = threshold.outcome();
        let _ = writeln!(
            xml,
            ">\n      <failure message=\"{}\">{} failed: {}, limit {}</failure>\n    </testcase>",
            escape(&measured),
            escape(&threshold.text),
            escape(&measured),
            escape(&threshold.limit_text())
        );
    }
    if !record.completed {
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{}\" name=\"run\">\n      <error message=\"{}\"/>\n    </testcase>",
            escape(&record.experiment),
            escape(&record.ending)
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// The suite's properties: the run, the risk of every observed scenario and every resource,
/// the remediation and each mitigation.
fn properties(record: &RunRecord) -> Vec<(String, String)> {
    let mut out = vec![
        ("run_id".to_string(), record.run_id.clone()),
        ("seed".to_string(), record.seed.to_string()),
        ("ending".to_string(), record.ending.clone()),
    ];
    let risk = &record.risk;
    for s in risk.scenarios.iter().filter(|s| s.observed) {
        out.push((
            format!("risk.scenario.{}", s.fault),
            format!("{:.6}", s.risk),
        ));
    }
    for r in &risk.resources {
        out.push((
            format!("risk.resource.{}", r.resource),
            format!("{:.6}", r.risk),
        ));
    }
    for (i, s) in risk.suggestions.iter().enumerate() {
        out.push((
            format!("remediation.{}", i + 1),
            format!("{} ({}): {}", s.fault, s.mode, s.text),
        ));
    }
    for (i, m) in record.mitigations.iter().enumerate() {
        out.push((
            format!("mitigation.{}", i + 1),
            format!(
                "{} on {}: {}",
                m.action,
                m.trigger,
                if m.ok { "ok" } else { "failed" }
            ),
        ));
    }
    out
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample_record;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;");
    }

    #[test]
    fn an_inconclusive_threshold_is_a_skipped_case_unless_it_fails_the_run() {
        let mut record = sample_record();
        let t = &mut record.thresholds[0];
        t.inconclusive = true;
        t.passed = true;
        t.note = Some("inconclusive: 3 samples (at least 5 needed)".to_string());
        let name = escape(&t.text);
        let xml = junit_xml(&record);
        let case = xml.split(&format!("name=\"{name}\"")).nth(1).unwrap();
        assert!(
            case.starts_with(">\n      <skipped message=\"measured "),
            "{xml}"
        );
        assert!(case.contains("inconclusive: 3 samples"), "{xml}");
        record.thresholds[0].passed = false;
        let xml = junit_xml(&record);
        let case = xml.split(&format!("name=\"{name}\"")).nth(1).unwrap();
        assert!(case.starts_with(">\n      <failure message="), "{xml}");
    }

    #[test]
    fn one_case_per_threshold_named_as_written_with_percentages() {
        let mut record = sample_record();
        let xml = junit_xml(&record);
        assert!(
            xml.contains("tests=\"4\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        // `during` is part of the name; a fraction is a percentage.
        assert!(
            xml.contains("name=\"checkout.p99 &lt; 250ms during slow_backend\""),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"measured 50%\">"), "{xml}");
        assert!(!xml.contains("measured 0.5"), "{xml}");
        record.experiment = "a <b> & \"c\"".into();
        assert!(junit_xml(&record).contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        record.completed = false;
        record.ending = "aborted: x".into();
        let xml = junit_xml(&record);
        assert!(
            xml.contains("tests=\"5\" failures=\"1\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<error message=\"aborted: x\"/>"), "{xml}");
    }
}
