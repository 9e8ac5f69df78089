//! JUnit XML of a run: one test case per threshold, so CI systems show each as passed or
//! failed. Written by hand; every text is escaped.

use super::interpreter::RunReport;
use std::fmt::Write;

/// The JUnit XML document of `report`.
pub fn junit_xml(report: &RunReport) -> String {
    junit_xml_with(report, &[])
}

/// The JUnit XML document of `report`, with `extra` suite properties (the risk scores).
pub fn junit_xml_with(report: &RunReport, extra: &[(String, String)]) -> String {
    let failures = report.thresholds.iter().filter(|t| !t.passed).count();
    let errors = usize::from(!report.completed);
    // An incomplete run adds one `run` case carrying the error.
    let tests = report.thresholds.len() + errors;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"pfi\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        report.wall_ms / 1000.0
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        escape(&report.experiment),
        report.wall_ms / 1000.0
    );
    let _ = writeln!(
        xml,
        "    <properties><property name=\"run_id\" value=\"{}\"/><property name=\"seed\" value=\"{}\"/><property name=\"ending\" value=\"{}\"/>{}</properties>",
        escape(&report.run_id),
        report.seed,
        escape(&report.ending),
        extra
            .iter()
            .map(|(k, v)| format!("<property name=\"{}\" value=\"{}\"/>", escape(k), escape(v)))
            .collect::<String>()
    );
    for threshold in &report.thresholds {
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&report.experiment),
            escape(&threshold.text)
        );
        if threshold.passed {
            xml.push_str("/>\n");
            continue;
        }
        let measured = match (threshold.measured, &threshold.note) {
            (Some(value), _) => format!("measured {value}"),
            (None, Some(note)) => note.clone(),
            (None, None) => "not measured".to_string(),
        };
        let _ = writeln!(
            xml,
            ">\n      <failure message=\"{}\">{} failed: {}</failure>\n    </testcase>",
            escape(&measured),
            escape(&threshold.text),
            escape(&measured)
        );
    }
    if !report.completed {
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{}\" name=\"run\">\n      <error message=\"{}\"/>\n    </testcase>",
            escape(&report.experiment),
            escape(&report.ending)
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
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
    use crate::run::ThresholdVerdict;

    fn report(passed: bool) -> RunReport {
        RunReport {
            run_id: "r1".into(),
            experiment: "a <b> & \"c\"".into(),
            seed: 7,
            ledger: "x".into(),
            ending: "completed".into(),
            completed: true,
            thresholds: vec![ThresholdVerdict {
                text: "p.p99 < 10ms".into(),
                measured: Some(12.0),
                passed,
                note: None,
                abort: false,
                skipped: false,
            }],
            faults: Vec::new(),
            zero_ms: 0.0,
            probes: Vec::new(),
            health: Vec::new(),
            resource_events: Vec::new(),
            teardown_errors: Vec::new(),
            predictions: Vec::new(),
            mitigations: Vec::new(),
            wall_ms: 1500.0,
            events: Vec::new(),
        }
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;");
    }

    #[test]
    fn one_case_per_threshold_with_failures() {
        let xml = junit_xml(&report(false));
        assert!(
            xml.contains("tests=\"1\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"p.p99 &lt; 10ms\""), "{xml}");
        assert!(xml.contains("<failure message=\"measured 12\">"), "{xml}");
        assert!(xml.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "{xml}");
        let xml = junit_xml(&report(true));
        assert!(xml.contains("failures=\"0\"") && !xml.contains("<failure"));
        let mut aborted = report(true);
        aborted.completed = false;
        aborted.ending = "aborted: x".into();
        let xml = junit_xml(&aborted);
        assert!(
            xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<error message=\"aborted: x\"/>"), "{xml}");
    }
}
