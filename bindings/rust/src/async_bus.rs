//! Receiving under tokio (feature `tokio`).
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::io::unix::AsyncFd;

use crate::{Bus, Event, EventRef, RecvError};

/// A [`Bus`] whose events are received under tokio, through
/// `tokio::io::unix::AsyncFd` on the handle's (always non-blocking)
/// descriptor.
///
/// Publishing goes through [`AsyncBus::bus`]: a plain publish never blocks
/// (only `publish_ask` and `publish_wait` do; run those with
/// `tokio::task::spawn_blocking` on a separate handle).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use evbus::{AsyncBus, Bus, RecvError};
/// let bus = Bus::open()?;
/// bus.subscribe("aegis.>")?;
/// let mut rx = AsyncBus::new(bus)?;
/// loop {
///     match rx.recv().await {
///         Ok(event) => println!("{} {}", event.seq, event.topic),
///         Err(RecvError::Lagged { lost, .. }) => eprintln!("lost {lost}"),
///         Err(e) => return Err(e.into()),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncBus {
    fd: AsyncFd<Bus>,
}

impl AsyncBus {
    /// Register `bus` with the current tokio runtime (which needs its IO
    /// driver: `enable_io()`, or `#[tokio::main]`).
    pub fn new(bus: Bus) -> io::Result<Self> {
        Ok(AsyncBus {
            fd: AsyncFd::new(bus)?,
        })
    }

    /// The handle, for publishing, subscribing and the rest.
    pub fn bus(&self) -> &Bus {
        self.fd.get_ref()
    }

    /// The handle, mutably (ring settings).  Do not read from it directly
    /// while awaiting [`AsyncBus::recv`].
    pub fn bus_mut(&mut self) -> &mut Bus {
        self.fd.get_mut()
    }

    /// Back to the blocking handle.
    pub fn into_inner(self) -> Bus {
        self.fd.into_inner()
    }

    /// The next event: as [`Bus::recv`], but waiting asynchronously.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        loop {
            let mut guard = self.fd.readable_mut().await?;
            match guard.get_inner_mut().try_recv() {
                Err(e) if e.is_would_block() => {
                    // Both the kernel's ring and libevbus's buffer are empty.
                    guard.clear_ready();
                    continue;
                }
                other => return other,
            }
        }
    }

    /// As [`AsyncBus::recv`], but the event is borrowed from the read
    /// buffer (no allocation, no copy) until the next receive, as
    /// [`Bus::recv_ref`].
    pub async fn recv_ref(&mut self) -> Result<EventRef<'_>, RecvError> {
        let r = loop {
            let mut guard = self.fd.readable_mut().await?;
            match guard.get_inner_mut().next_event_raw(0) {
                Err(e) if e.is_would_block() => guard.clear_ready(),
                Err(e) => return Err(e),
                Ok(r) => break r,
            }
        };
        // SAFETY: just read, and no read since.
        unsafe { self.fd.get_ref().event_ref_at(r) }
    }

    /// The handle as a `Stream` of events (it never ends).
    pub fn stream(self) -> EventStream {
        EventStream { inner: self }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Event, RecvError>> {
        loop {
            let mut guard = match self.fd.poll_read_ready_mut(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(RecvError::Io(e))),
                Poll::Pending => return Poll::Pending,
            };
            match guard.get_inner_mut().try_recv() {
                Err(e) if e.is_would_block() => {
                    guard.clear_ready();
                    continue;
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

/// A `futures_core::Stream` of `Result<Event, RecvError>` from
/// [`AsyncBus::stream`]; losses come in order as `Err(RecvError::Lagged)`.
#[derive(Debug)]
pub struct EventStream {
    inner: AsyncBus,
}

impl EventStream {
    /// The handle, for publishing and subscribing.
    pub fn bus(&self) -> &Bus {
        self.inner.bus()
    }

    /// Back to the [`AsyncBus`].
    pub fn into_inner(self) -> AsyncBus {
        self.inner
    }
}

impl Stream for EventStream {
    type Item = Result<Event, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_recv(cx).map(Some)
    }
}
