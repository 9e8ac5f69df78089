//! The system-changing actions the engine can perform itself, given the run's handles:
//! `shift` (point a proxy link at another upstream, undone by pointing it back). The
//! actions that need the interpreter's resources (`scale`, `activate`, `restart`,
//! `rehearse`) go to the interpreter's [`Actions`]; until that is wired they fail with a
//! clear message, which the engine journals, and the run goes on.

use super::engine::{Actions, BoxFuture, Performed, Undo};
use crate::plan::ActionPlan;
use crate::predict::Prediction;
use crate::proxy::ProxyServer;
use std::sync::Arc;

pub struct ProxyActions {
    pub proxy: ProxyServer,
    /// The interpreter's actions for everything else, if wired.
    pub rest: Option<Arc<dyn Actions>>,
}

impl Actions for ProxyActions {
    fn perform<'a>(
        &'a self,
        action: &'a ActionPlan,
        prediction: Option<&'a Prediction>,
    ) -> BoxFuture<'a, Result<Performed, String>> {
        Box::pin(async move {
            match action {
                ActionPlan::Shift { link, to } => {
                    let before = self
                        .proxy
                        .link(link)
                        .map_err(|e| format!("shift {link}: {e}"))?
                        .upstream;
                    self.proxy
                        .set_upstream(link, to.clone())
                        .map_err(|e| format!("shift {link}: {e}"))?;
                    Ok(Performed {
                        detail: format!(
                            "link {link} now sends new connections to {to} (was {before})"
                        ),
                        undo: Some(Undo {
                            action: format!("shift {link}"),
                            detail: format!("shift\n{link}\n{before}"),
                        }),
                    })
                }
                other => match &self.rest {
                    Some(rest) => rest.perform(other, prediction).await,
                    None => Err(format!(
                        "this build cannot perform `{other:?}` yet: the interpreter does not provide it"
                    )),
                },
            }
        })
    }

    fn revert<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut parts = undo.detail.splitn(3, '\n');
            if parts.next() == Some("shift") {
                let (Some(link), Some(before)) = (parts.next(), parts.next()) else {
                    return Err(format!("malformed undo record for {}", undo.action));
                };
                return self
                    .proxy
                    .set_upstream(link, before.to_string())
                    .map_err(|e| format!("shift {link} back to {before}: {e}"));
            }
            match &self.rest {
                Some(rest) => rest.revert(undo).await,
                None => Err(format!("nothing can revert {}", undo.action)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mitigate::engine::MitigationEngine;
    use crate::monitor::MetricsStore;
    use crate::plan::{Location, MitigationPlan, TriggerPlan};
    use crate::proxy::LinkConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TCP server that answers every connection with `reply`.
    async fn replier(reply: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let _ = s.write_all(reply).await;
            }
        });
        address
    }

    async fn read_via(address: std::net::SocketAddr) -> String {
        let mut s = tokio::net::TcpStream::connect(address).await.unwrap();
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    #[tokio::test]
    async fn a_predicted_failure_shifts_traffic_to_the_standby_and_back_at_the_end() {
        let primary = replier(b"primary").await;
        let standby = replier(b"standby").await;
        let proxy = ProxyServer::new(1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let info = proxy
            .add_link(LinkConfig::tcp("api_db", listener, primary.clone()))
            .await
            .unwrap();
        assert_eq!(read_via(info.listen).await, "primary");
        let rules = vec![MitigationPlan {
            trigger: TriggerPlan::Predicted {
                fault_kind: "crash".into(),
            },
            actions: vec![
                ActionPlan::Shift {
                    link: "api_db".into(),
                    to: standby.clone(),
                },
                ActionPlan::Restart {
                    resource: "db".into(),
                },
            ],
            cooldown_ms: 0.0,
            at: Location {
                file: "t.pfi".into(),
                line: 1,
                column: 1,
                start: 0,
                end: 0,
            },
        }];
        let actions = Arc::new(ProxyActions {
            proxy: proxy.clone(),
            rest: None,
        });
        let mut engine = MitigationEngine::with_rules(rules, 0.5, MetricsStore::new(), actions);
        engine
            .on_prediction(&Prediction {
                at_ms: 0.0,
                kind: "crash".into(),
                pattern: "p".into(),
                resource: "db".into(),
                confidence: 0.9,
                signals: Vec::new(),
                expected: None,
            })
            .await;
        assert_eq!(read_via(info.listen).await, "standby");
        let firings = engine.firings().to_vec();
        assert!(firings[0].ok, "{firings:?}");
        assert!(!firings[1].ok && firings[1].outcome.contains("cannot perform"));
        let log = engine.finish().await;
        assert_eq!(log.reverted, vec!["shift api_db"]);
        assert!(log.revert_errors.is_empty());
        assert_eq!(proxy.link("api_db").unwrap().upstream, primary);
        assert_eq!(read_via(info.listen).await, "primary");
        proxy.shutdown().await;
    }
}
