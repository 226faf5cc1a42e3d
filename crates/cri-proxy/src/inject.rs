//! `--inject RULE`: faults injected into the calls of one RPC (or all), to see how a kubelet or
//! a tool copes with a slow or failing runtime.
//!
//! A rule is `RPC:ACTION[,ACTION…]`:
//!
//! | part | meaning |
//! |---|---|
//! | `RPC` | an RPC's name (`ListContainers`, or `RuntimeService/ListContainers`), or `*` for every RPC |
//! | `delay=DURATION` | wait this long before forwarding the call (`250us`, `200ms`, `1.5s`, `2m`) |
//! | `error=CODE` | answer this gRPC status instead of forwarding (`UNAVAILABLE`, `deadline_exceeded`, any of the 16 codes but `OK`) |
//! | `drop=N` | forward, then reset the response stream once `N` messages went through (`drop=0`: before the first); the client sees `UNAVAILABLE` or a reset stream |
//! | `rate=P` | affect each call with probability `P` (0 to 1; default 1) |
//!
//! `ListContainers:delay=200ms`, `PullImage:error=UNAVAILABLE,rate=0.2`,
//! `GetContainerEvents:drop=3`. Every rule that names a call's RPC applies, in the order given:
//! delays add up, the first error chosen answers. A bad rule is refused with one line naming
//! what is wrong.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::{Code, Status};
use tower::{Layer, Service, ServiceExt};

use crate::grpc::{self, GrpcRequest, GrpcResponse, GrpcService};
use crate::methods;
use crate::observe::{self, Rules, Watch};

/// One parsed `--inject` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    text: String,
    /// The RPC's name; `None` for every RPC.
    rpc: Option<&'static str>,
    delay: Option<Duration>,
    error: Option<Code>,
    drop_after: Option<usize>,
    rate: f64,
}

impl std::str::FromStr for Rule {
    type Err = String;

    fn from_str(text: &str) -> Result<Rule, String> {
        let fail = |what: String| format!("--inject {text:?}: {what}");
        let (rpc, actions) = text
            .split_once(':')
            .ok_or_else(|| fail("a rule is RPC:ACTION[,ACTION...], and there is no ':'".into()))?;
        let rpc = match rpc.trim() {
            "*" => None,
            name => {
                let short = name.rsplit_once('/').map_or(name, |(_, n)| n);
                let method = methods::METHODS
                    .iter()
                    .find(|m| m.name == short && (short == name || m.qualified() == name))
                    .ok_or_else(|| fail(format!("no CRI RPC is named {name:?}")))?;
                Some(method.name)
            }
        };
        let mut rule = Rule {
            text: text.to_string(),
            rpc,
            delay: None,
            error: None,
            drop_after: None,
            rate: 1.0,
        };
        for action in actions.split(',').map(str::trim) {
            let (key, value) = action.split_once('=').ok_or_else(|| {
                fail(format!(
                    "{action:?} is not KEY=VALUE (delay, error, drop, rate)"
                ))
            })?;
            match key {
                "delay" => {
                    rule.delay = Some(parse_duration(value).ok_or_else(|| {
                        fail(format!(
                            "delay wants a duration like 200ms or 1.5s, not {value:?}"
                        ))
                    })?)
                }
                "error" => {
                    let code = grpc::code_by_name(value)
                        .filter(|&c| c != Code::Ok)
                        .ok_or_else(|| fail(format!("error wants a gRPC code name like UNAVAILABLE (not OK), not {value:?}")))?;
                    rule.error = Some(code);
                }
                "drop" => {
                    rule.drop_after = Some(value.parse().map_err(|_| {
                        fail(format!("drop wants a number of messages, not {value:?}"))
                    })?)
                }
                "rate" => {
                    rule.rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            fail(format!("rate wants a number from 0 to 1, not {value:?}"))
                        })?
                }
                other => {
                    return Err(fail(format!(
                        "unknown action {other:?} (delay, error, drop, rate)"
                    )));
                }
            }
        }
        if rule.delay.is_none() && rule.error.is_none() && rule.drop_after.is_none() {
            return Err(fail("no fault: give delay=, error= or drop=".into()));
        }
        Ok(rule)
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds <= 86_400.0).then(|| Duration::from_secs_f64(seconds))
}

/// The layer that injects the faults of its rules.
#[derive(Debug, Clone)]
pub struct InjectLayer {
    rules: Arc<[Rule]>,
}

impl InjectLayer {
    /// Injects `rules`.
    pub fn new(rules: Vec<Rule>) -> Self {
        InjectLayer {
            rules: rules.into(),
        }
    }
}

impl Layer<GrpcService> for InjectLayer {
    type Service = Inject;
    fn layer(&self, inner: GrpcService) -> Inject {
        Inject {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service [`InjectLayer`] makes.
#[derive(Clone)]
pub struct Inject {
    inner: GrpcService,
    rules: Arc<[Rule]>,
}

impl std::fmt::Debug for Inject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inject")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// A uniform number in [0, 1): splitmix64 over a shared counter seeded from the clock.
fn chance() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    if seed == 0 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        seed = now.as_nanos() as u64 | 1;
        STATE.store(seed, Ordering::Relaxed);
    }
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

struct Nothing;
impl Watch for Nothing {
    fn end(self: Box<Self>, _: i32, _: &str) {}
}

impl Service<GrpcRequest> for Inject {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        let inner = self.inner.clone();
        let name = methods::lookup(request.uri().path()).map(|m| m.name);
        let mut delay = Duration::ZERO;
        let mut error = None;
        let mut drop_after = None;
        for rule in self.rules.iter() {
            if rule.rpc.is_some() && rule.rpc != name {
                continue;
            }
            if rule.rate < 1.0 && chance() >= rule.rate {
                continue;
            }
            delay += rule.delay.unwrap_or_default();
            if error.is_none() {
                error = rule.error.map(|code| (code, rule.text.clone()));
            }
            drop_after = drop_after.or(rule.drop_after);
        }
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some((code, text)) = error {
                return Ok(grpc::status_response(Status::new(
                    code,
                    format!("cri-proxy: injected by --inject {text}"),
                )));
            }
            let response = inner.oneshot(request).await?;
            Ok(match drop_after {
                Some(after) => observe::watch(
                    response,
                    Box::new(Nothing),
                    Rules {
                        limit: None,
                        drop_after: Some(after),
                    },
                ),
                None => response,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        let rule: Rule = "ListContainers:delay=200ms".parse().unwrap();
        assert_eq!(rule.rpc, Some("ListContainers"));
        assert_eq!(rule.delay, Some(Duration::from_millis(200)));
        let rule: Rule = "ImageService/PullImage:error=unavailable,rate=0.2"
            .parse()
            .unwrap();
        assert_eq!((rule.error, rule.rate), (Some(Code::Unavailable), 0.2));
        let rule: Rule = "*:drop=3".parse().unwrap();
        assert_eq!((rule.rpc, rule.drop_after), (None, Some(3)));
    }

    #[test]
    fn bad_rules_say_what_is_wrong_in_one_line() {
        for (rule, says) in [
            ("ListContainers", "no ':'"),
            (
                "ListContainer:delay=1s",
                "no CRI RPC is named \"ListContainer\"",
            ),
            ("ListContainers:delay=soon", "delay wants a duration"),
            ("ListContainers:delay=5h", "delay wants a duration"),
            ("PullImage:error=NOPE", "error wants a gRPC code name"),
            ("PullImage:error=OK", "error wants a gRPC code name"),
            (
                "PullImage:error=INTERNAL,rate=2",
                "rate wants a number from 0 to 1",
            ),
            ("PullImage:rate=0.5", "no fault"),
            ("PullImage:boom=1", "unknown action \"boom\""),
            ("PullImage:drop", "is not KEY=VALUE"),
            ("RuntimeService/PullImage:drop=1", "no CRI RPC"),
        ] {
            let error = rule.parse::<Rule>().unwrap_err();
            assert!(error.contains(says), "{rule}: {error}");
            assert!(error.starts_with("--inject "), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn chance_is_in_range_and_varies() {
        let draws: Vec<f64> = (0..1000).map(|_| chance()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let below = draws.iter().filter(|&&d| d < 0.5).count();
        assert!((350..650).contains(&below), "{below}");
    }
}
