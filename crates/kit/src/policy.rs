//! Who may call which RPC, kept as data: a TOML file of rules per method (the suite's defaults in
//! `policy/default.toml`, entries overridable by the `policy_file` setting). A call is allowed
//! when its caller matches the method's rule; a method without a rule is denied to everyone. The
//! server stack checks it before any handler runs; rules about particular resources (an agency's
//! own referrals, who may record which kind of observation) are in the services' code.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    path::Path,
    str::FromStr,
};

use serde::Deserialize;

use crate::identity::Identity;

/// An officer's role, from the `roles` claim of their token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes in complaints and manages cases.
    IntakeOfficer,
    /// Patrols platforms: opens patrol cases, records links and what checks found.
    PatrolOfficer,
    /// Writes to platforms: removal requests, cessation notices, follow-ups.
    LiaisonOfficer,
    /// Assesses cases for prosecution and refers them to the Police.
    LegalOfficer,
    /// Oversees the officers: everything they do, and the statistics.
    Supervisor,
    /// Reads everything, changes nothing.
    Auditor,
    /// Reads the statistics behind the published figures, and nothing with personal data.
    ReportReader,
    /// Runs the suite: the platform registry and the outbox, not the cases.
    Operator,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::IntakeOfficer,
        Role::PatrolOfficer,
        Role::LiaisonOfficer,
        Role::LegalOfficer,
        Role::Supervisor,
        Role::Auditor,
        Role::ReportReader,
        Role::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::IntakeOfficer => "intake_officer",
            Role::PatrolOfficer => "patrol_officer",
            Role::LiaisonOfficer => "liaison_officer",
            Role::LegalOfficer => "legal_officer",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::ReportReader => "report_reader",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("{s:?} is not a role ({})", names.join(", "))
        })
    }
}

/// Who may call one method.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Officers holding any of these roles.
    #[serde(default)]
    pub roles: BTreeSet<Role>,
    /// These peer services.
    #[serde(default)]
    pub services: BTreeSet<String>,
    /// Any agency (the service then limits each agency to its own resources).
    #[serde(default)]
    pub agencies: bool,
    /// Anyone with a certificate of the suite's CA, officers even without a token (health,
    /// reflection).
    #[serde(default)]
    pub any_identity: bool,
    /// The method reads personal data: an officer must state a purpose.
    #[serde(default)]
    pub requires_purpose: bool,
}

/// The caller as the policy sees it.
pub enum Caller<'a> {
    Service(&'a str),
    Agency(&'a str),
    /// An officer's client; `None` when it sent no (valid) token.
    Officer(Option<&'a BTreeSet<Role>>),
}

/// Why a call was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The caller must authenticate (an officer's client without a token).
    Unauthenticated,
    /// The caller is known but may not call the method; the message says what would be needed.
    Forbidden(String),
}

/// The policy of every method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// By method path, `/package.Service/Method`.
    rules: BTreeMap<String, Rule>,
}

/// The file's shape: `[service."pkg.Service".Method]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    service: BTreeMap<String, BTreeMap<String, Rule>>,
}

/// The suite's default policy.
pub const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

impl Policy {
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut rules = BTreeMap::new();
        for (service, methods) in file.service {
            for (method, rule) in methods {
                for name in &rule.services {
                    Identity::service(name)?;
                }
                rules.insert(format!("/{service}/{method}"), rule);
            }
        }
        Ok(Self { rules })
    }

    /// The default policy.
    pub fn default_policy() -> Self {
        match Self::parse(DEFAULT_POLICY) {
            Ok(policy) => policy,
            // The file is compiled in and checked by the kit's tests.
            Err(e) => panic!("the default policy does not parse: {e}"),
        }
    }

    /// The default policy with the rules of the file at `path` in place of the defaults for the
    /// same methods. A rule for a method no doxwatch service serves is an error (a typo would
    /// otherwise leave the intended method at its default).
    pub fn with_overrides(path: &Path, known_methods: &BTreeSet<String>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let overrides = Self::parse(&text)?;
        let mut policy = Self::default_policy();
        for (method, rule) in overrides.rules {
            if !known_methods.contains(&method) {
                return Err(format!("{method} is not an RPC of any doxwatch service"));
            }
            policy.rules.insert(method, rule);
        }
        Ok(policy)
    }

    /// Every method the policy has a rule for.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.rules.keys().map(String::as_str)
    }

    pub fn rule(&self, method: &str) -> Option<&Rule> {
        self.rules.get(method)
    }

    /// Whether `caller` may call `method` (its path).
    pub fn check(&self, method: &str, caller: &Caller<'_>) -> Result<(), Denial> {
        let Some(rule) = self.rules.get(method) else {
            return Err(match caller {
                Caller::Officer(None) => Denial::Unauthenticated,
                _ => Denial::Forbidden(format!("{method} is not open to anyone")),
            });
        };
        if rule.any_identity {
            return Ok(());
        }
        match caller {
            Caller::Service(name) if rule.services.contains(*name) => Ok(()),
            Caller::Service(name) => Err(Denial::Forbidden(format!("the {name} service may not call {method}"))),
            Caller::Agency(_) if rule.agencies => Ok(()),
            Caller::Agency(name) => Err(Denial::Forbidden(format!("agency {name} may not call {method}"))),
            Caller::Officer(None) => Err(Denial::Unauthenticated),
            Caller::Officer(Some(roles)) if roles.iter().any(|r| rule.roles.contains(r)) => Ok(()),
            Caller::Officer(Some(_)) if rule.roles.is_empty() => {
                Err(Denial::Forbidden(format!("{method} may be called only by doxwatch services, not by officers")))
            }
            Caller::Officer(Some(_)) => {
                let needed: Vec<&str> = rule.roles.iter().map(|r| r.as_str()).collect();
                Err(Denial::Forbidden(format!("{method} needs one of the roles {}", needed.join(", "))))
            }
        }
    }
}

/// Every RPC a doxwatch server serves, by path: each service's, the outbox's, health and
/// reflection. The matrix test and the override check read it.
pub fn served_methods() -> BTreeSet<String> {
    methods_where(|_| true)
}

/// Every served RPC whose response is a stream (a watch).
pub fn streaming_methods() -> BTreeSet<String> {
    methods_where(|server_streaming| server_streaming)
}

/// The served RPCs, by path, whose "streams its response" flag passes `keep`.
fn methods_where(keep: impl Fn(bool) -> bool) -> BTreeSet<String> {
    use prost::Message;
    // The services every server adds beside its own, with whether each method streams its answer.
    let common = [
        ("/grpc.health.v1.Health/Check", false),
        ("/grpc.health.v1.Health/Watch", true),
        ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true),
        ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", true),
    ];
    let mut methods: BTreeSet<String> =
        common.into_iter().filter(|(_, streams)| keep(*streams)).map(|(path, _)| path.to_owned()).collect();
    if let Ok(set) = prost_types::FileDescriptorSet::decode(doxwatch_proto::FILE_DESCRIPTOR_SET) {
        for file in set.file.iter().filter(|f| f.package().starts_with("doxwatch.")) {
            for service in &file.service {
                for method in service.method.iter().filter(|m| keep(m.server_streaming())) {
                    methods.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_parses_and_denies_what_it_does_not_name() {
        let policy = Policy::default_policy();
        assert!(policy.methods().count() > 50);
        let roles: BTreeSet<Role> = [Role::ReportReader].into();
        assert_eq!(
            policy.check("/doxwatch.intake.v1.IntakeService/GetIntakeStatistics", &Caller::Officer(Some(&roles))),
            Ok(())
        );
        assert!(matches!(
            policy.check("/doxwatch.intake.v1.IntakeService/GetCase", &Caller::Officer(Some(&roles))),
            Err(Denial::Forbidden(_))
        ));
        assert!(matches!(policy.check("/x.Y/Z", &Caller::Service("intake")), Err(Denial::Forbidden(_))));
        assert_eq!(policy.check("/x.Y/Z", &Caller::Officer(None)), Err(Denial::Unauthenticated));
    }

    #[test]
    fn every_served_method_has_a_rule_and_every_rule_a_method() {
        let policy = Policy::default_policy();
        let served = served_methods();
        let ruled: BTreeSet<String> = policy.methods().map(str::to_owned).collect();
        assert_eq!(served.difference(&ruled).collect::<Vec<_>>(), Vec::<&String>::new(), "methods without a rule");
        assert_eq!(ruled.difference(&served).collect::<Vec<_>>(), Vec::<&String>::new(), "rules without a method");
    }

    #[test]
    fn unknown_roles_and_fields_are_refused() {
        assert!(Policy::parse("[service.\"a.B\".C]\nroles = [\"janitor\"]\n").is_err());
        assert!(Policy::parse("[service.\"a.B\".C]\nofficers = true\n").is_err());
        assert!(Policy::parse("[service.\"a.B\".C]\nservices = [\"mail\"]\n").is_err());
    }
}
