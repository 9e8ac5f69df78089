//! `RiskPrior`: which prior the risk model's rates start from, as `pfi plan` shows it — the
//! fixed Gamma(0.5, 1 year), the single Gamma fitted to the history, or the type × kind prior
//! (`cell_prior.rs`) — with its parameters.

use super::cell_prior::CellPrior;
use super::prior::Prior;
use super::rates::RateTable;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskPrior {
    /// `fixed`, `fitted` or `type_kind`.
    pub model: &'static str,
    /// The single prior (fixed or fitted): shape, and rate in resource-years.
    pub alpha: f64,
    pub beta_years: f64,
    /// The history behind it.
    pub incidents: usize,
    pub types: usize,
    pub kinds: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<CellPrior>,
}

impl RiskPrior {
    /// The prior of `rates`; `None` without a history.
    pub fn of(rates: &RateTable) -> Option<RiskPrior> {
        if rates.rates.is_empty() {
            return None;
        }
        let Prior {
            alpha,
            beta,
            fitted,
        } = rates.prior;
        let mut kinds: Vec<&str> = rates.rates.iter().map(|r| r.fault_kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        Some(RiskPrior {
            model: match (&rates.structure, fitted) {
                (Some(_), _) => "type_kind",
                (None, true) => "fitted",
                (None, false) => "fixed",
            },
            alpha,
            beta_years: beta,
            incidents: rates.rates.iter().map(|r| r.count).sum(),
            types: rates.exposure.len(),
            kinds: kinds.len(),
            structure: rates.structure.clone(),
        })
    }

    /// One or two lines for `pfi plan`.
    pub fn text(&self) -> String {
        let history = format!(
            "{} incident{} over {} type{} and {} kind{}",
            self.incidents,
            if self.incidents == 1 { "" } else { "s" },
            self.types,
            if self.types == 1 { "" } else { "s" },
            self.kinds,
            if self.kinds == 1 { "" } else { "s" }
        );
        let single = format!(
            "Gamma(α {:.3}, β {:.3} resource-years), mean {:.3} a year",
            self.alpha,
            self.beta_years,
            self.alpha / self.beta_years
        );
        match (&self.structure, self.model) {
            (Some(s), _) => {
                let list = |factors: &std::collections::BTreeMap<String, f64>| {
                    factors
                        .iter()
                        .map(|(k, v)| format!("{k} ×{v:.2}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "risk prior: type × kind, fitted to the history ({history}; log-likelihood \
                     +{:.1} over one prior, {single}): mean {:.3} a year × type × kind, shape α \
                     {:.3}\n  type factors: {}\n  kind factors: {}\n",
                    s.gain,
                    s.pooled,
                    s.alpha,
                    list(&s.type_factors),
                    list(&s.kind_factors)
                )
            }
            (None, "fitted") => {
                format!("risk prior: fitted to the history ({history}): {single}\n")
            }
            _ => format!(
                "risk prior: fixed {single} (the history, {history}, is too small to fit one: \
                 at least 3 cells and 3 incidents)\n"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::history::parse_csv;

    #[test]
    fn names_the_prior_and_its_parameters() {
        assert_eq!(RiskPrior::of(&RateTable::empty()), None);
        let one = "timestamp,resource,resource_type,fault_kind,duration,root_cause\n\
            2024-01-01T00:00:00Z,db1,postgres,pause,1s,x\n";
        let fixed = RiskPrior::of(&RateTable::from_history(&parse_csv(one).unwrap())).unwrap();
        assert_eq!(fixed.model, "fixed");
        assert_eq!(
            fixed.text(),
            "risk prior: fixed Gamma(α 0.500, β 1.000 resource-years), mean 0.500 a year (the \
             history, 1 incident over 1 type and 1 kind, is too small to fit one: at least 3 \
             cells and 3 incidents)\n"
        );
        let mut text =
            String::from("timestamp,resource,resource_type,fault_kind,duration,root_cause\n");
        for (t, n) in [("a", 6), ("b", 4), ("c", 8)] {
            for i in 0..n {
                text.push_str(&format!(
                    "2024-{:02}-01T00:00:00Z,{t}1,{t},kill,1s,x\n",
                    1 + i % 12
                ));
            }
        }
        text.push_str("2024-12-31T00:00:00Z,a1,a,pause,1s,x\n");
        let fitted = RiskPrior::of(&RateTable::from_history(&parse_csv(&text).unwrap())).unwrap();
        assert_eq!(fitted.model, "fitted");
        assert!(fitted.text().starts_with("risk prior: fitted to the history (19 incidents over 3 types and 2 kinds): Gamma(α "), "{}", fitted.text());
    }
}
