//! The rechecker's HTTP client: rustls (the process's ring provider), no cookies, no credentials,
//! no proxy, a clear User-Agent, redirects followed to a limit, a timeout per check, and a pace
//! per host so that no site hears from one replica more often than configured.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use tokio::sync::Mutex;

use super::guard;
use crate::{config::RecheckConfig, domain::*};

/// What the rechecker calls itself.
pub fn user_agent() -> String {
    format!("doxwatch-rechecker/{} (+privacy regulator link check)", env!("CARGO_PKG_VERSION"))
}

pub struct Fetcher {
    client: reqwest::Client,
    pace: HostPace,
    allow_private: bool,
}

impl Fetcher {
    pub fn new(config: &RecheckConfig) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent())
            .redirect(guard::redirects(config.allow_private_addresses))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Only what the link itself gives: no proxy from the environment, no Referer.
            .no_proxy()
            .referer(false);
        if !config.allow_private_addresses {
            builder = builder.dns_resolver(guard::PublicOnly::new());
        }
        for (host, addr) in &config.resolve {
            builder = builder.resolve(host, *addr);
        }
        Ok(Self {
            client: builder.build()?,
            pace: HostPace::new(config.per_host_interval),
            allow_private: config.allow_private_addresses,
        })
    }

    /// Fetches `url`, reading up to [`BODY_LIMIT`] bytes of a 2xx page when `read_body`.
    pub async fn fetch(&self, url: &str, read_body: bool) -> Answer {
        let parsed = match url::Url::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => return Answer::Network(format!("not a URL: {e}")),
        };
        if !self.allow_private
            && let Some(refused) = guard::refused_literal(&parsed)
        {
            return Answer::Refused(refused.to_string());
        }
        self.pace.wait_turn(parsed.host_str().unwrap_or_default()).await;
        let response = match self.client.get(url).header(reqwest::header::ACCEPT, "text/html,*/*;q=0.8").send().await {
            Ok(response) => response,
            Err(e) => return failure(&e, url),
        };
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let mut body = Vec::new();
        if read_body && response.status().is_success() {
            let mut response = response;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = BODY_LIMIT - body.len();
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if body.len() >= BODY_LIMIT {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return failure(&e, url),
                }
            }
        }
        Answer::Http { status, final_url, body: String::from_utf8_lossy(&body).into_owned() }
    }
}

fn failure(e: &reqwest::Error, url: &str) -> Answer {
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<guard::NotPublic>() {
            return Answer::Refused(refused.to_string());
        }
        if c.is::<guard::TooManyRedirects>() {
            return Answer::TooManyRedirects { last_url: e.url().map_or_else(|| url.to_owned(), |u| u.to_string()) };
        }
        cause = c.source();
    }
    if e.is_timeout() {
        return Answer::Timeout;
    }
    let mut text = if e.is_connect() { "cannot connect".to_owned() } else { "request failed".to_owned() };
    // The innermost cause says what happened (refused, reset, DNS, TLS).
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = innermost {
        text = format!("{text}: {cause}");
    }
    Answer::Network(text)
}

/// The next moment each host may be asked, per replica.
struct HostPace {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl HostPace {
    fn new(interval: Duration) -> Self {
        Self { interval, next: Mutex::new(HashMap::new()) }
    }

    async fn wait_turn(&self, host: &str) {
        if self.interval.is_zero() {
            return;
        }
        let turn = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            next.retain(|_, at| *at > now);
            let turn = next.get(host).copied().filter(|at| *at > now).unwrap_or(now);
            next.insert(host.to_owned(), turn + self.interval);
            turn
        };
        tokio::time::sleep_until(turn.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_host_is_paced_and_others_are_not() {
        let pace = HostPace::new(Duration::from_millis(100));
        let start = Instant::now();
        pace.wait_turn("a.example").await;
        pace.wait_turn("b.example").await;
        assert!(start.elapsed() < Duration::from_millis(80));
        pace.wait_turn("a.example").await;
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
