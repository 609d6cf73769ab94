use slipway_state::{StateError, StateStore};

use crate::{open, resource, take_lock, temp_db};

#[tokio::test]
async fn put_remove_snapshot_round_trip_with_deposed() {
    let (_dir, path) = temp_db();
    let store = open(&path);
    let lock = take_lock(&store).await;

    let empty = store.snapshot().await.unwrap();
    assert_eq!(
        (empty.serial, empty.resources.len(), empty.deposed.len()),
        (0, 0, 0)
    );

    let a = resource("a", None);
    let b = resource("b", None);
    let a_old = resource("a", Some("d1"));
    let a_older = resource("a", Some("d0"));
    assert_eq!(store.put_resource(&lock, &a).await.unwrap(), 1);
    assert_eq!(store.put_resource(&lock, &b).await.unwrap(), 2);
    assert_eq!(store.put_resource(&lock, &a_old).await.unwrap(), 3);
    assert_eq!(store.put_resource(&lock, &a_older).await.unwrap(), 4);

    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap.serial, 4);
    assert_eq!(snap.resources.len(), 2);
    assert_eq!(snap.resources[&a.address], a);
    assert_eq!(snap.resources[&b.address], b);
    assert_eq!(snap.deposed, vec![a_older.clone(), a_old.clone()]);

    // Overwrite in place: same key, new body.
    let mut a2 = a.clone();
    a2.cloud_id = Some("subnet-new".to_owned());
    assert_eq!(store.put_resource(&lock, &a2).await.unwrap(), 5);

    // Removing the deposed object leaves the current one, and vice versa.
    assert_eq!(
        store
            .remove_resource(&lock, &a.address, Some("d1"))
            .await
            .unwrap(),
        6
    );
    assert_eq!(
        store
            .remove_resource(&lock, &b.address, None)
            .await
            .unwrap(),
        7
    );

    // A second store on the same file sees the same thing.
    let snap = open(&path).snapshot().await.unwrap();
    assert_eq!(snap.serial, 7);
    assert_eq!(
        snap.resources.into_iter().collect::<Vec<_>>(),
        vec![(a.address.clone(), a2)]
    );
    assert_eq!(snap.deposed, vec![a_older]);
}

#[tokio::test]
async fn empty_deposed_key_is_refused_without_bumping() {
    let (_dir, path) = temp_db();
    let store = open(&path);
    let lock = take_lock(&store).await;
    assert!(matches!(
        store.put_resource(&lock, &resource("a", Some(""))).await,
        Err(StateError::Backend(_))
    ));
    assert_eq!(store.snapshot().await.unwrap().serial, 0);
}

#[tokio::test]
async fn corrupt_resource_is_named() {
    let (_dir, path) = temp_db();
    let store = open(&path);
    let lock = take_lock(&store).await;
    store
        .put_resource(&lock, &resource("a", None))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE resources SET body = '{\"address\": 1}'", [])
        .unwrap();
    drop(conn);

    match store.snapshot().await {
        Err(e @ StateError::Corrupt { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("corrupt state record resource `prod-use1/aws.subnet/a`"),
                "{e}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
