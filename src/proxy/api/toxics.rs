//! The toxic endpoints: `/proxies/{name}/toxics` and `/proxies/{name}/toxics/{toxic}`.

use super::Reply;
use super::api_error::ApiError;
use super::json::{self, TOXIC_EXAMPLE, ToxicInput, ToxicJson};
use crate::proxy::toxics::build;
use crate::proxy::{ProxyServer, Stream, ToxicConfig};
use hyper::StatusCode;
use serde_json::Value;

pub async fn index(proxy: &ProxyServer, link: &str) -> Result<Reply, ApiError> {
    let toxics: Vec<ToxicJson> = proxy
        .toxics(link)?
        .into_iter()
        .map(ToxicJson::from)
        .collect();
    Ok(Reply::json(StatusCode::OK, &toxics))
}

pub async fn show(proxy: &ProxyServer, link: &str, toxic: &str) -> Result<Reply, ApiError> {
    Ok(Reply::json(
        StatusCode::OK,
        &ToxicJson::from(proxy.toxic(link, toxic)?),
    ))
}

fn parse_stream(text: Option<&str>) -> Result<Option<Stream>, ApiError> {
    text.map(|s| s.parse::<Stream>())
        .transpose()
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, err.to_string()))
}

/// Creates a toxic; defaults as in Toxiproxy: downstream, toxicity 1, name `<type>_<stream>`.
/// Answers 200 with the toxic, as Toxiproxy does.
pub async fn create(proxy: &ProxyServer, link: &str, body: &[u8]) -> Result<Reply, ApiError> {
    proxy.link(link)?;
    let input: ToxicInput = json::parse(body, TOXIC_EXAMPLE)?;
    let stream = parse_stream(input.stream.as_deref())?.unwrap_or_default();
    let type_name = input.type_name.unwrap_or_default();
    let name = input
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{type_name}_{stream}"));
    let toxic = build(
        &type_name,
        input.attributes.as_ref().unwrap_or(&Value::Null),
    )?;
    let config = ToxicConfig {
        name,
        stream,
        toxicity: input.toxicity.unwrap_or(1.0),
        toxic,
    };
    let info = proxy.add_toxic(link, config)?;
    Ok(Reply::json(StatusCode::OK, &ToxicJson::from(info)))
}

/// Updates a toxic: the given attributes are merged over the current ones (a partial update
/// as in Toxiproxy); `toxicity` and (pfi) `stream` may change too.
pub async fn update(
    proxy: &ProxyServer,
    link: &str,
    toxic: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let current = proxy.toxic_config(link, toxic)?;
    let input: ToxicInput = json::parse(body, r#"{"attributes": {"latency": 1000}}"#)?;
    let mut attributes = current.toxic.attributes();
    match (&mut attributes, input.attributes) {
        (Value::Object(now), Some(Value::Object(changes))) => now.extend(changes),
        (_, None | Some(Value::Null)) => {}
        (_, Some(other)) => {
            return Err(ApiError::bad_body(format!(
                "attributes must be a JSON object, got {other}"
            )));
        }
    }
    let config = ToxicConfig {
        name: current.name,
        stream: parse_stream(input.stream.as_deref())?.unwrap_or(current.stream),
        toxicity: input.toxicity.unwrap_or(current.toxicity),
        toxic: build(current.toxic.type_name(), &attributes)?,
    };
    let info = proxy.update_toxic(link, config)?;
    Ok(Reply::json(StatusCode::OK, &ToxicJson::from(info)))
}

pub async fn delete(proxy: &ProxyServer, link: &str, toxic: &str) -> Result<Reply, ApiError> {
    proxy.remove_toxic(link, toxic)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
