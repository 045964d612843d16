//! A small blocking HTTP client for the node's `/v1` API.

use crate::commands::Rejected;
use anyhow::{Context, Result};
use serde_json::Value;
use std::time::Duration;

/// The node API at a base URL.
#[derive(Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7300`).
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Value)> {
        let mut resp = resp.with_context(|| format!("cannot reach the node at {}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .with_context(|| format!("read the answer of {}", self.base))?;
        let v: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "the node at {} answered {status} with something that is not JSON",
                self.base
            )
        })?;
        if status >= 400 {
            let code = v["error"]["code"].as_str().unwrap_or("error").to_owned();
            let message = v["error"]["message"].as_str().unwrap_or("").to_owned();
            return Err(Rejected { code, message }.into());
        }
        Ok((status, v))
    }

    /// GET a JSON document.
    pub fn get(&self, path: &str) -> Result<Value> {
        let resp = self.agent.get(&self.url(path)).call();
        Ok(self.finish(resp)?.1)
    }

    /// GET the raw body (records are served exactly as signed).
    pub fn get_raw(&self, path: &str) -> Result<Vec<u8>> {
        let mut resp = self
            .agent
            .get(&self.url(path))
            .call()
            .with_context(|| format!("cannot reach the node at {}", self.base))?;
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().read_to_vec()?;
        if status >= 400 {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(Rejected {
                code: v["error"]["code"].as_str().unwrap_or("error").to_owned(),
                message: v["error"]["message"].as_str().unwrap_or("").to_owned(),
            }
            .into());
        }
        Ok(bytes)
    }

    /// POST a signed record; returns the node's answer (`id`, `status`).
    pub fn submit(&self, record: &[u8]) -> Result<Value> {
        let resp = self
            .agent
            .post(&self.url("/v1/records"))
            .header("content-type", "application/json")
            .send(record);
        Ok(self.finish(resp)?.1)
    }
}
