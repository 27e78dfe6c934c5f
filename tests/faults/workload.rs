//! What the clients of the fault harness do: CreateCase calls, each with a `request_id` and URLs
//! (so that intake's outbox owes link-tracking a registration), sent by several writers at once
//! while services are killed under them. Every acknowledgement is recorded; a call that was not
//! acknowledged is retried with the same `request_id`, or now and then abandoned, as a client
//! that gives up would.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use tonic::Code;

use crate::process::Officer;

/// How often each writer starts a write, at most: three writers make up to 15 cases a second.
const WRITE_EVERY: Duration = Duration::from_millis(200);

/// A small deterministic generator: a run is repeated with the seed it prints.
#[derive(Clone)]
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }

    pub fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to.saturating_sub(from).max(1)))
    }
}

/// One CreateCase a client means to make: the same request, byte for byte, on every retry.
#[derive(Debug, Clone)]
pub struct Write {
    pub request_id: String,
    pub cycle: u32,
    /// What the case's summary carries, so that the check can find the case again.
    pub tag: String,
    pub urls: Vec<String>,
    received_at: i64,
}

impl Write {
    fn new(seq: u64, cycle: u32) -> Self {
        let tag = format!("fault-{seq:06}");
        let urls = vec![
            format!("https://forum.example.com/t/{tag}"),
            format!("https://paste.example.org/{tag}"),
            shared_url(cycle),
        ];
        // Distinct, past business times: 2019, a minute apart.
        let received_at = 1_546_300_800 + i64::try_from(seq).unwrap_or(0) * 60;
        Self { request_id: format!("fault-harness-{tag}"), cycle, tag, urls, received_at }
    }

    pub fn summary(&self) -> String {
        format!("Personal data posted on two sites [{}]", self.tag)
    }

    fn request(&self) -> pb::CreateCaseRequest {
        pb::CreateCaseRequest {
            case: Some(pb::Case {
                kind: pb::CaseKind::Complaint as i32,
                received_at: Some(prost_types::Timestamp { seconds: self.received_at, nanos: 0 }),
                channel: pb::IntakeChannel::OnlineForm as i32,
                summary: self.summary(),
                reported_urls: self.urls.clone(),
                data_subjects: vec![pb::DataSubject {
                    display_name: format!("Test Subject {}", self.tag),
                    category: pb::DataSubjectCategory::Student as i32,
                    hong_kong_nexus: pb::HongKongNexus::Resident as i32,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: self.request_id.clone(),
        }
    }
}

/// The URL every case of a cycle cites: link-tracking must hold it once, cited by each of them.
pub fn shared_url(cycle: u32) -> String {
    format!("https://forum.example.com/t/shared-{cycle:04}")
}

/// What the clients know: every write they meant, the ones acknowledged (with the case's name),
/// the ones given up on, and what the services answered along the way.
#[derive(Default)]
pub struct Ledger {
    pub writes: Vec<Write>,
    pub acknowledged: HashMap<String, String>,
    pub abandoned: HashSet<String>,
    /// Writes not acknowledged yet, to retry.
    outstanding: Vec<Write>,
    /// Failed attempts by status code.
    pub failures: BTreeMap<String, u32>,
    /// Acknowledged writes sent again, each answered with the same case.
    pub replays: u32,
    /// Answers that no retry can change (a refused retry): the harness fails on any.
    pub refusals: Vec<String>,
}

/// Several writers sharing one ledger.
#[derive(Clone)]
pub struct Writers {
    pub ledger: Arc<Mutex<Ledger>>,
    next: Arc<AtomicU64>,
}

impl Writers {
    pub fn new() -> Self {
        Self { ledger: Arc::default(), next: Arc::new(AtomicU64::new(1)) }
    }

    /// Runs `count` writers on `intake` until `stop`, writing cases of `cycle`.
    pub fn run(
        &self,
        count: u32,
        intake: &Officer,
        cycle: u32,
        dice: &mut Dice,
        stop: &Arc<AtomicBool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..count)
            .map(|_| {
                let (writers, stop) = (self.clone(), stop.clone());
                let mut client = IntakeServiceClient::new(intake.clone());
                let mut dice = Dice::new(dice.below(u64::MAX));
                tokio::spawn(async move {
                    // A fixed pace, not as fast as intake answers: each cycle's backlog of effects,
                    // which the resume measure includes, then does not grow with intake's speed.
                    let mut pace = tokio::time::interval(WRITE_EVERY);
                    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while !stop.load(Ordering::SeqCst) {
                        pace.tick().await;
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let write = writers.next_write(cycle);
                        if !writers.attempt(&mut client, write, &mut dice, true).await {
                            // Not hammering a service that is down.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                })
            })
            .collect()
    }

    fn next_write(&self, cycle: u32) -> Write {
        let mut ledger = self.ledger.lock().expect("not poisoned");
        if let Some(write) = ledger.outstanding.pop() {
            return write;
        }
        let write = Write::new(self.next.fetch_add(1, Ordering::SeqCst), cycle);
        ledger.writes.push(write.clone());
        write
    }

    /// Sends `write` once; records the answer. Returns whether it was acknowledged.
    async fn attempt(
        &self,
        client: &mut IntakeServiceClient<Officer>,
        write: Write,
        dice: &mut Dice,
        may_abandon: bool,
    ) -> bool {
        let mut request = tonic::Request::new(write.request());
        request.set_timeout(Duration::from_secs(5));
        match client.create_case(request).await {
            Ok(answer) => {
                let name = answer.into_inner().name;
                self.ledger.lock().expect("not poisoned").acknowledged.insert(write.request_id.clone(), name.clone());
                // Now and then the client did not hear the answer and sends it again: the same case.
                if dice.below(8) == 0 {
                    self.replay(client, &write, &name).await;
                }
                true
            }
            Err(status) => {
                let mut ledger = self.ledger.lock().expect("not poisoned");
                *ledger.failures.entry(format!("{:?}", status.code())).or_default() += 1;
                match status.code() {
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Cancelled
                    | Code::Unknown
                    | Code::Internal
                    | Code::ResourceExhausted => {
                        if may_abandon && dice.below(10) == 0 {
                            ledger.abandoned.insert(write.request_id.clone());
                        } else {
                            ledger.outstanding.push(write);
                        }
                    }
                    code => ledger.refusals.push(format!("{}: {code:?} {}", write.request_id, status.message())),
                }
                false
            }
        }
    }

    async fn replay(&self, client: &mut IntakeServiceClient<Officer>, write: &Write, name: &str) {
        let mut request = tonic::Request::new(write.request());
        request.set_timeout(Duration::from_secs(5));
        // A replay that fails (the service was just killed) proves nothing either way.
        if let Ok(answer) = client.create_case(request).await {
            let mut ledger = self.ledger.lock().expect("not poisoned");
            let again = answer.into_inner().name;
            if again == name {
                ledger.replays += 1;
            } else {
                ledger.refusals.push(format!("{}: replayed as {again}, first answered {name}", write.request_id));
            }
        }
    }

    /// Retries every write not acknowledged (and not abandoned) until each is, the service up.
    pub async fn settle(&self, intake: &Officer) {
        let mut client = IntakeServiceClient::new(intake.clone());
        let mut dice = Dice::new(1);
        let started = std::time::Instant::now();
        loop {
            let next = self.ledger.lock().expect("not poisoned").outstanding.pop();
            let Some(write) = next else { return };
            if !self.attempt(&mut client, write, &mut dice, false).await {
                assert!(started.elapsed() < Duration::from_secs(60), "retries not acknowledged within a minute");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// A write sent without its `request_id`, as a careless client would retry: a second case.
    pub async fn duplicate_without_request_id(&self, intake: &Officer, write: &Write) {
        let mut client = IntakeServiceClient::new(intake.clone());
        let mut request = write.request();
        request.request_id = String::new();
        client.create_case(request).await.expect("a second case is created");
    }
}
