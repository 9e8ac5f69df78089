//! One connection of a TCP link: dial the upstream, pump both directions, end the way the
//! toxics or the peers say.

use super::link::Link;
use super::pump::{Outcome, Pump, drive};
use super::stage::Ending;
use super::stats::{ActiveConnection, LinkCounters};
use super::stream::Direction;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long to wait for the upstream to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn serve(
    link: &Link,
    mut client: TcpStream,
    connection: u64,
    stop: watch::Receiver<()>,
) {
    let _active = ActiveConnection::open(&link.counters);
    let upstream_addr = link.upstream();
    let mut upstream = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect(&*upstream_addr),
    )
    .await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            LinkCounters::bump(&link.counters.upstream_errors);
            tracing::warn!(link = %link.name, upstream = %upstream_addr, %err, "cannot connect to the upstream; closing the client connection");
            return;
        }
        Err(_) => {
            LinkCounters::bump(&link.counters.upstream_errors);
            tracing::warn!(link = %link.name, upstream = %upstream_addr, "upstream did not accept within {CONNECT_TIMEOUT:?}; closing the client connection");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let outcome = {
        let (client_read, client_write) = client.split();
        let (upstream_read, upstream_write) = upstream.split();
        let up = Pump::new(
            link,
            connection,
            Direction::Upstream,
            client_read,
            upstream_write,
        );
        let down = Pump::new(
            link,
            connection,
            Direction::Downstream,
            upstream_read,
            client_write,
        );
        drive(up.run(), down.run(), stop).await
    };
    if outcome == Outcome::End(Ending::Reset) {
        let _ = client.set_zero_linger();
        let _ = upstream.set_zero_linger();
    }
}
