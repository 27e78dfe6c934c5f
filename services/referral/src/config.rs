//! The referral service's own configuration keys, read beside the kit's `ServiceConfig` from the
//! same layers (defaults < file < `DOXWATCH_*`): the agencies referrals may be made to, and how
//! often an idle watch stream hears a heartbeat.

use std::time::Duration;

use doxwatch_kit::{actor::MAX_AGENCY_LEN, config::Layers};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralConfig {
    /// Agencies referrals may be made to, upper case; the first is not special, POLICE is the
    /// default of a referral.
    pub agencies: Vec<String>,
    /// How long a watch stream may be idle before it is sent a heartbeat.
    pub watch_heartbeat: Duration,
    /// How often a watch stream looks for entries another replica wrote.
    pub watch_poll: Duration,
}

impl Default for ReferralConfig {
    fn default() -> Self {
        Self {
            agencies: vec![DEFAULT_AGENCY.to_owned()],
            watch_heartbeat: Duration::from_secs(15),
            watch_poll: Duration::from_millis(500),
        }
    }
}

/// The agency a referral goes to when none is named.
pub const DEFAULT_AGENCY: &str = "POLICE";

/// An agency's name as the service keeps it: upper case letters, digits, '-' and '_'.
pub fn agency_name(text: &str) -> Result<String, String> {
    let name = text.trim().to_ascii_uppercase();
    if name.is_empty()
        || name.len() > MAX_AGENCY_LEN
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("{text:?} is not an agency name (1 to {MAX_AGENCY_LEN} letters, digits, '-' or '_')"));
    }
    Ok(name)
}

impl ReferralConfig {
    pub const KEYS: &'static [&'static str] = &["agencies", "watch_heartbeat_ms"];

    pub fn from_layers(layers: &mut Layers) -> Self {
        let defaults = Self::default();
        Self {
            agencies: layers.get_with("agencies", defaults.agencies, |s| {
                let mut agencies: Vec<String> = Vec::new();
                for part in s.split(',') {
                    let name = agency_name(part)?;
                    if !agencies.contains(&name) {
                        agencies.push(name);
                    }
                }
                Ok(agencies)
            }),
            watch_heartbeat: layers.get_millis(
                "watch_heartbeat_ms",
                defaults.watch_heartbeat,
                Duration::from_millis(10),
                Duration::from_secs(3600),
            ),
            watch_poll: defaults.watch_poll,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agencies_and_heartbeat_are_read_and_every_bad_value_reported() {
        let env =
            |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let mut layers = Layers::load(
            None,
            env(&[("DOXWATCH_AGENCIES", "police, customs,POLICE"), ("DOXWATCH_WATCH_HEARTBEAT_MS", "250")]),
            ReferralConfig::KEYS,
        );
        let config = ReferralConfig::from_layers(&mut layers);
        layers.finish().unwrap();
        assert_eq!(config.agencies, vec!["POLICE".to_owned(), "CUSTOMS".to_owned()]);
        assert_eq!(config.watch_heartbeat, Duration::from_millis(250));

        let mut layers = Layers::load(
            None,
            env(&[("DOXWATCH_AGENCIES", "police,,x y"), ("DOXWATCH_WATCH_HEARTBEAT_MS", "0")]),
            ReferralConfig::KEYS,
        );
        let _ = ReferralConfig::from_layers(&mut layers);
        let text = layers.finish().unwrap_err().to_string();
        assert!(text.contains("DOXWATCH_AGENCIES") && text.contains("DOXWATCH_WATCH_HEARTBEAT_MS"), "{text}");
    }
}
