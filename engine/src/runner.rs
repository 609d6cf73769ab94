//! A small set of concurrently polled futures that may borrow from the caller.
//!
//! The walk's operations borrow the state store and the plan, so they cannot be spawned as
//! `'static` tasks; they are polled together in the walk's own task instead. The set is as
//! large as the walk's parallelism, so polling every member on a wake-up is cheap. It never
//! decides what runs: callers push and bound it.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Futures in flight.
pub(crate) struct Running<'a, T> {
    futures: Vec<BoxFuture<'a, T>>,
}

impl<'a, T> Running<'a, T> {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self {
            futures: Vec::new(),
        }
    }

    /// Adds a future; it first runs at the next [`Running::next`].
    pub(crate) fn push(&mut self, f: impl Future<Output = T> + Send + 'a) {
        self.futures.push(Box::pin(f));
    }

    /// How many are in flight.
    pub(crate) fn len(&self) -> usize {
        self.futures.len()
    }

    /// The output of the next future to finish; `None` when the set is empty.
    pub(crate) async fn next(&mut self) -> Option<T> {
        if self.futures.is_empty() {
            return None;
        }
        std::future::poll_fn(|cx| {
            for i in 0..self.futures.len() {
                if let Poll::Ready(out) = self.futures[i].as_mut().poll(cx) {
                    drop(self.futures.swap_remove(i));
                    return Poll::Ready(Some(out));
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn futures_finish_in_time_order_and_may_borrow() {
        let delays = [30u64, 10, 20];
        let mut running = Running::new();
        for (i, d) in delays.iter().enumerate() {
            running.push(async move {
                tokio::time::sleep(Duration::from_millis(*d)).await;
                i
            });
        }
        let mut order = Vec::new();
        while let Some(i) = running.next().await {
            order.push(i);
        }
        assert_eq!(order, vec![1, 2, 0]);
        assert_eq!(running.len(), 0);
    }
}
