use slipway_state::{StateError, StateStore};

use crate::{open, request, resource, take_lock, temp_db};

#[tokio::test]
async fn second_store_sees_the_holder_until_unlock() {
    let (_dir, path) = temp_db();
    let (a, b) = (open(&path), open(&path));

    let held = a
        .lock(&request("alice@host (pid 1)", "apply"))
        .await
        .unwrap();
    assert_eq!(held.holder, "alice@host (pid 1)");
    assert_eq!(held.operation, "apply");

    match b.lock(&request("bob@host (pid 2)", "destroy")).await {
        Err(StateError::Locked(info)) => assert_eq!(info, held),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(b.current_lock().await.unwrap(), Some(held.clone()));

    a.unlock(&held).await.unwrap();
    assert_eq!(b.current_lock().await.unwrap(), None);
    let bobs = b
        .lock(&request("bob@host (pid 2)", "destroy"))
        .await
        .unwrap();
    assert_eq!(bobs.operation, "destroy");
    assert_ne!(bobs.id, held.id);
}

#[tokio::test]
async fn unlock_with_another_id_releases_nothing() {
    let (_dir, path) = temp_db();
    let (a, b) = (open(&path), open(&path));
    let held = take_lock(&a).await;
    let mut stranger = held.clone();
    stranger.id = "0".repeat(32);

    assert!(
        matches!(b.unlock(&stranger).await, Err(StateError::LockLost(id)) if id == stranger.id)
    );
    assert_eq!(a.current_lock().await.unwrap(), Some(held));
}

#[tokio::test]
async fn force_unlock_releases_only_the_named_lock() {
    let (_dir, path) = temp_db();
    let (a, b) = (open(&path), open(&path));
    let held = take_lock(&a).await;

    assert!(
        matches!(b.force_unlock("nope").await, Err(StateError::NoSuchLock(id)) if id == "nope")
    );
    assert!(a.current_lock().await.unwrap().is_some());

    b.force_unlock(&held.id).await.unwrap();
    assert_eq!(a.current_lock().await.unwrap(), None);
    assert!(matches!(
        b.force_unlock(&held.id).await,
        Err(StateError::NoSuchLock(_))
    ));
}

#[tokio::test]
async fn writes_under_a_forced_lock_are_refused() {
    let (_dir, path) = temp_db();
    let (a, b) = (open(&path), open(&path));
    let stale = take_lock(&a).await;
    b.force_unlock(&stale.id).await.unwrap();
    let fresh = take_lock(&b).await;

    let lost =
        |r: Result<_, StateError>| matches!(r, Err(StateError::LockLost(id)) if id == stale.id);
    assert!(lost(
        a.put_resource(&stale, &resource("a", None)).await.map(drop)
    ));
    assert!(lost(
        a.remove_resource(&stale, &resource("a", None).address, None)
            .await
            .map(drop)
    ));
    assert!(lost(a.unlock(&stale).await));

    // Nothing written: the serial did not move, and the new holder still holds the lock.
    let snapshot = b.snapshot().await.unwrap();
    assert_eq!(snapshot.serial, 0);
    assert!(snapshot.resources.is_empty());
    assert_eq!(b.current_lock().await.unwrap(), Some(fresh));
}

#[tokio::test]
async fn writes_without_any_lock_are_refused() {
    let (_dir, path) = temp_db();
    let a = open(&path);
    let held = take_lock(&a).await;
    a.unlock(&held).await.unwrap();
    assert!(matches!(
        a.put_resource(&held, &resource("a", None)).await,
        Err(StateError::LockLost(_))
    ));
}
