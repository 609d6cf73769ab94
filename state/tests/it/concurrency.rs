use std::sync::Arc;

use slipway_state::{StateError, StateStore};

use crate::{open, request, resource, take_lock, temp_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_no_update() {
    let (_dir, path) = temp_db();
    // Two stores (two connections) on one file, writing under the same lock.
    let stores: [Arc<dyn StateStore>; 2] = [Arc::new(open(&path)), Arc::new(open(&path))];
    let lock = take_lock(stores[0].as_ref()).await;

    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = Arc::clone(&stores[i % 2]);
        let lock = lock.clone();
        tasks.push(tokio::spawn(async move {
            let mut serials = Vec::new();
            for j in 0..4 {
                serials.push(
                    store
                        .put_resource(&lock, &resource(&format!("r{i}-{j}"), None))
                        .await
                        .unwrap(),
                );
            }
            serials
        }));
    }
    let mut serials = Vec::new();
    for task in tasks {
        serials.extend(task.await.unwrap());
    }
    serials.sort_unstable();
    assert_eq!(
        serials,
        (1..=256).collect::<Vec<u64>>(),
        "each write got its own serial"
    );

    let snapshot = stores[1].snapshot().await.unwrap();
    assert_eq!(snapshot.serial, 256);
    assert_eq!(snapshot.resources.len(), 256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_lockers_get_exactly_one_lock() {
    let (_dir, path) = temp_db();
    let stores: [Arc<dyn StateStore>; 2] = [Arc::new(open(&path)), Arc::new(open(&path))];
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&stores[i % 2]);
            tokio::spawn(async move { store.lock(&request(&format!("run {i}"), "apply")).await })
        })
        .collect();
    let mut winners = Vec::new();
    let mut refusals = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(info) => winners.push(info),
            Err(StateError::Locked(holder)) => refusals.push(holder),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(refusals.len(), 15);
    assert!(refusals.iter().all(|holder| *holder == winners[0]));
}
