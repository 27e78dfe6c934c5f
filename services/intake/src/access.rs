//! Need-to-know: who sees a case's personal data. Officers of the case's team, and the officer it
//! is assigned to, see all of it; supervisors and auditors, who oversee every team, and peer
//! services, which act on a case's behalf, see all of it too. Other officers see the case redacted
//! unless they break the glass, which the audit log records for a supervisor's review.

use doxwatch_kit::{actor, audit, identity::Identity, policy::Role};
use doxwatch_proto::intake as pb;
use tonic::{Request, Status};

/// How much of a case a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// All of it, by right.
    Full,
    /// All of it, through broken glass: audited as such.
    BrokenGlass,
    /// Everything but the personal data.
    Redacted,
}

impl Sight {
    /// The outcome its audit record gives.
    pub fn outcome(self) -> &'static str {
        match self {
            Sight::Full => "OK",
            Sight::BrokenGlass => audit::BREAK_GLASS,
            Sight::Redacted => audit::REDACTED,
        }
    }
}

/// The caller, as need-to-know judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// Sees every case whole (supervisors, auditors, peer services, agencies). `team` is the
    /// caller's team, if an officer's: the cases a supervisor records are their team's.
    Everyone {
        team: String,
    },
    Officer {
        id: String,
        team: String,
        break_glass: bool,
    },
}

impl Viewer {
    pub fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        let principal = actor::principal(request)?;
        let break_glass = request.metadata().get(audit::BREAK_GLASS_HEADER).is_some();
        Ok(match (&principal.identity, &principal.officer) {
            (Identity::Officer(_), Some(o))
                if !o.roles.contains(&Role::Supervisor) && !o.roles.contains(&Role::Auditor) =>
            {
                Viewer::Officer { id: o.id.clone(), team: o.team.clone(), break_glass }
            }
            (_, officer) => Viewer::Everyone { team: officer.as_ref().map(|o| o.team.clone()).unwrap_or_default() },
        })
    }

    /// The team a case this caller records is assigned to.
    pub fn team(&self) -> &str {
        match self {
            Viewer::Everyone { team } | Viewer::Officer { team, .. } => team,
        }
    }

    /// How much of a case assigned to `team` and `officer` this caller sees.
    pub fn sight(&self, team: &str, officer: &str) -> Sight {
        match self {
            Viewer::Everyone { .. } => Sight::Full,
            Viewer::Officer { id, team: own, break_glass } => {
                if team.is_empty() || team == own || (!officer.is_empty() && officer == id) {
                    Sight::Full
                } else if *break_glass {
                    Sight::BrokenGlass
                } else {
                    Sight::Redacted
                }
            }
        }
    }

    /// `case` as this caller may see it.
    pub fn present(&self, mut case: pb::Case) -> pb::Case {
        if self.sight(&case.team, &case.assigned_officer) == Sight::Redacted {
            redact(&mut case);
        }
        case
    }
}

/// Withholds a case's personal data: what is left says what kind of case it is, not whose.
pub fn redact(case: &mut pb::Case) {
    case.summary.clear();
    for subject in &mut case.data_subjects {
        subject.display_name.clear();
        subject.contact = None;
    }
    if let Some(complainant) = case.complainant.as_mut() {
        complainant.display_name.clear();
        complainant.contact = None;
    }
    case.redacted = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer(team: &str, break_glass: bool) -> Viewer {
        Viewer::Officer { id: "chan.tm".into(), team: team.into(), break_glass }
    }

    #[test]
    fn a_team_s_officers_and_the_assigned_officer_see_a_case_others_break_the_glass() {
        assert_eq!(officer("intake-1", false).sight("intake-1", ""), Sight::Full);
        assert_eq!(officer("intake-2", false).sight("intake-1", ""), Sight::Redacted);
        assert_eq!(officer("intake-2", false).sight("intake-1", "chan.tm"), Sight::Full);
        assert_eq!(officer("intake-2", true).sight("intake-1", "wong.kl"), Sight::BrokenGlass);
        assert_eq!(officer("intake-2", false).sight("", ""), Sight::Full, "a case from before teams");
        assert_eq!(Viewer::Everyone { team: String::new() }.sight("intake-1", ""), Sight::Full);
        // An empty officer never matches an officer without an id.
        let nameless = Viewer::Officer { id: String::new(), team: "x".into(), break_glass: false };
        assert_eq!(nameless.sight("intake-1", ""), Sight::Redacted);
    }

    #[test]
    fn redaction_keeps_what_the_case_is_and_drops_whose_it_is() {
        let mut case = pb::Case {
            summary: "Chan's address posted".into(),
            data_subjects: vec![pb::DataSubject {
                display_name: "Chan Tai Man".into(),
                contact: Some(pb::Contact { phone: "91234567".into(), ..Default::default() }),
                category: 2,
                hong_kong_nexus: 1,
            }],
            complainant: Some(pb::Complainant { display_name: "Chan Siu Ming".into(), relationship: 2, contact: None }),
            reported_urls: vec!["https://t.me/x/1".into()],
            team: "intake-1".into(),
            ..Default::default()
        };
        redact(&mut case);
        assert!(case.redacted && case.summary.is_empty());
        assert_eq!((case.data_subjects[0].display_name.as_str(), case.data_subjects[0].category), ("", 2));
        assert!(case.data_subjects[0].contact.is_none());
        assert_eq!(case.complainant.as_ref().map(|c| (c.display_name.as_str(), c.relationship)), Some(("", 2)));
        assert_eq!(case.reported_urls.len(), 1);
    }
}
