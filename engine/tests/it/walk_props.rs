//! Property tests of the walk on random DAGs with random failures.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use slipway_engine::{PlanMode, apply};
use slipway_provider::{Address, ErrorClass, Resource, Value};

use crate::fake::Phase;
use crate::support::{Env, addr, res};

#[derive(Debug, Clone)]
struct Dag {
    /// `deps[i]` are indices below `i`.
    deps: Vec<Vec<usize>>,
    fails: Vec<bool>,
}

fn dags() -> impl Strategy<Value = Dag> {
    (1usize..30).prop_flat_map(|n| {
        (
            proptest::collection::vec(proptest::bool::weighted(0.12), n * n),
            proptest::collection::vec(proptest::bool::weighted(0.1), n),
        )
            .prop_map(move |(adj, fails)| Dag {
                deps: (0..n)
                    .map(|i| (0..i).filter(|&j| adj[i * n + j]).collect())
                    .collect(),
                fails,
            })
    })
}

fn address(i: usize) -> Address {
    addr("c", "thing", &format!("n{i:02}"))
}

/// Odd dependencies go through references, even ones through `depends_on`.
fn resources(dag: &Dag) -> Vec<Resource> {
    dag.deps
        .iter()
        .enumerate()
        .map(|(i, deps)| {
            let mut r = res(&address(i), &[("i", Value::from(i as i64))]);
            for &d in deps {
                if d % 2 == 1 {
                    r.properties
                        .insert(format!("dep{d}"), Value::reference(&address(d), "id"));
                } else {
                    r.depends_on.push(address(d));
                }
            }
            r
        })
        .collect()
}

/// Indices that transitively depend on a failed index (excluding the failed index itself,
/// unless it also depends on another failure).
fn descendants_of_failures(dag: &Dag) -> BTreeSet<usize> {
    let mut doomed = BTreeSet::new();
    for i in 0..dag.deps.len() {
        if dag.deps[i]
            .iter()
            .any(|&d| doomed.contains(&d) || dag.fails[d])
        {
            doomed.insert(i);
        }
    }
    doomed
}

/// (begin, end) logical times of the last `op` per address.
fn spans(env: &Env, op: &str) -> HashMap<Address, (u64, u64)> {
    env.cloud.with(|c| {
        let mut out: HashMap<Address, (u64, u64)> = HashMap::new();
        for call in c.log.iter().filter(|l| l.op == op) {
            let e = out.entry(call.address.clone()).or_default();
            match call.phase {
                Phase::Begin => e.0 = call.t,
                Phase::End => e.1 = call.t,
            }
        }
        out
    })
}

async fn check(dag: Dag, parallelism: usize) -> Result<(), TestCaseError> {
    let env = Env::new().await;
    let n = dag.deps.len();
    for i in (0..n).filter(|&i| dag.fails[i]) {
        env.cloud
            .fail(&address(i), "create", ErrorClass::Fatal, u32::MAX);
    }
    let rs = resources(&dag);
    let p = env.plan(&rs, PlanMode::Apply).await;
    let report = apply(&p, &env.context(parallelism)).await.unwrap();

    let skipped = descendants_of_failures(&dag);
    let expect_failed: BTreeSet<usize> = (0..n)
        .filter(|i| dag.fails[*i] && !skipped.contains(i))
        .collect();
    let got_failed: BTreeSet<usize> = report
        .failed
        .iter()
        .map(|a| a.name[1..].parse().unwrap())
        .collect();
    let got_skipped: BTreeSet<usize> = report
        .skipped
        .iter()
        .map(|a| a.name[1..].parse().unwrap())
        .collect();
    prop_assert_eq!(&got_failed, &expect_failed);
    prop_assert_eq!(&got_skipped, &skipped);
    prop_assert_eq!(report.succeeded, n - skipped.len() - expect_failed.len());

    let creates = spans(&env, "create");
    for i in 0..n {
        let Some(&(begin, _)) = creates.get(&address(i)) else {
            prop_assert!(
                skipped.contains(&i),
                "n{i} never started but was not skipped"
            );
            continue;
        };
        prop_assert!(!skipped.contains(&i), "skipped n{i} started");
        for &d in &dag.deps[i] {
            let end = creates.get(&address(d)).map(|s| s.1).unwrap_or(u64::MAX);
            prop_assert!(
                end < begin,
                "n{i} started at {begin} before n{d} finished at {end}"
            );
        }
    }
    let max = env.cloud.with(|c| c.max_in_flight);
    prop_assert!(
        max <= parallelism,
        "{max} in flight with parallelism {parallelism}"
    );

    // Destroy: every resource is deleted only after all of its dependents.
    let destroy = env.plan(&rs, PlanMode::Destroy).await;
    let report = apply(&destroy, &env.context(parallelism)).await.unwrap();
    prop_assert!(report.is_success());
    let deletes = spans(&env, "delete");
    prop_assert_eq!(deletes.len(), n - skipped.len() - expect_failed.len());
    for i in 0..n {
        for &d in &dag.deps[i] {
            if let (Some(&(_, dependent_gone)), Some(&(begin, _))) =
                (deletes.get(&address(i)), deletes.get(&address(d)))
            {
                prop_assert!(
                    dependent_gone < begin,
                    "n{d} deleted before its dependent n{i}"
                );
            }
        }
    }
    prop_assert!(env.cloud.with(|c| c.objects.is_empty()));
    let max = env.cloud.with(|c| c.max_in_flight);
    prop_assert!(max <= parallelism);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_walk_orders_skips_and_bounds_as_promised(dag in dags(), parallelism in 1usize..5) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        rt.block_on(check(dag, parallelism))?;
    }
}
