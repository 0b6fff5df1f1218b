//! The emulator killed in the middle of many clients' journeys and started again on the same
//! data: while it is away every request answers a prompt 503, never a hang or another error;
//! once it is back the journeys resume, every 204 registration logs in, and the invariants
//! hold.

use std::time::{Duration, Instant};

use e2e::faults::exclusive;

use crate::load::{publish, report, run, settle};

#[tokio::test]
async fn journeys_resume_after_the_emulator_is_killed_and_restarted() {
    let (_guard, stack) = exclusive().await;
    let clients = 6;
    let started = Instant::now();
    let (down_at, up_at, end) = (
        Duration::from_secs(2),
        Duration::from_secs(5),
        Duration::from_secs(9),
    );
    let load = tokio::spawn(run(clients, end, true));
    tokio::time::sleep(down_at).await;
    tokio::task::spawn_blocking(|| e2e::faults::fault_stack().kill_emulator())
        .await
        .expect("the emulator is killed");
    let killed = started.elapsed();
    tokio::time::sleep(up_at.saturating_sub(started.elapsed())).await;
    tokio::task::spawn_blocking(|| e2e::faults::fault_stack().start_emulator())
        .await
        .expect("the emulator starts again");
    let restarted = started.elapsed();
    let tally = load.await.expect("the load");
    publish(&format!(
        "{}\nEmulator killed at {:.1} s, back at {:.1} s\n",
        report("Emulator killed and restarted mid-journey", clients, &tally),
        killed.as_secs_f64(),
        restarted.as_secs_f64()
    ));
    assert!(
        tally.broken.is_empty(),
        "{} broken answers:\n{}",
        tally.broken.len(),
        tally.broken.join("\n")
    );
    assert!(tally.count(503) > 0, "the outage was seen");
    assert_eq!(tally.server_errors(), tally.count(503), "no 5xx but 503");
    let resumed = tally
        .journey_ends
        .iter()
        .filter(|end| **end > restarted)
        .count();
    assert!(
        resumed > 0,
        "journeys completed after the restart: {:?}",
        tally.journey_ends
    );
    // The data came back as it was: the settings too (a restart that seeded again put
    // infra/seed.json's 5 registrations a minute in place of the stack's own for every later
    // test).
    let settings = stack
        .store()
        .settings()
        .await
        .expect("the settings read")
        .expect("the settings item");
    assert_eq!(
        settings.rate_limits.register.points, 100_000,
        "the restarted emulator kept the stack's settings (tests/fixtures/public.json)"
    );
    settle(stack, &tally).await;
}
