//! Diagnostics: what the agent did, queued for the board to take.
//!
//! Contract: the agent never calls out for diagnostics. It records an
//! [`Event`] per request handled (and per reset, stray byte or limit) in a
//! small queue that the board drains with [`crate::Agent::take_event`]
//! whenever it likes: into a trace ring, a log, or nowhere. When the board
//! does not drain it, the oldest events are overwritten and counted in
//! [`crate::Stats::events_dropped`]; nothing on the wire ever depends on
//! them.

use crate::json::frame::Limit;

/// Something the agent did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A command ran; `ok` says whether it succeeded.
    Command {
        /// Its wire name.
        name: &'static str,
        /// Success or error reply.
        ok: bool,
    },
    /// A request was rejected before a command ran (syntax, envelope, unknown
    /// or disabled command, bad arguments).
    Rejected,
    /// A lexical error (a stray byte such as 0xFF).
    Stray,
    /// A request broke the size or depth limit.
    Limit(Limit),
    /// The connection was reset (a new client).
    Reset,
    /// A `guest-exec` program finished while the agent stepped it on its
    /// own (its deadline, or any poll), not in answer to a status request.
    Exited {
        /// Its pid.
        pid: i64,
    },
}

/// Events kept until the board takes them.
pub const EVENT_QUEUE: usize = 8;

/// A ring of the newest [`EVENT_QUEUE`] events.
#[derive(Clone, Debug, Default)]
pub(crate) struct Events {
    ring: [Option<Event>; EVENT_QUEUE],
    /// Index of the oldest event.
    head: usize,
    len: usize,
}

impl Events {
    /// Records `e`; returns false if the oldest event was overwritten.
    pub fn push(&mut self, e: Event) -> bool {
        let at = (self.head.wrapping_add(self.len)) % EVENT_QUEUE;
        if let Some(slot) = self.ring.get_mut(at) {
            *slot = Some(e);
        }
        if self.len < EVENT_QUEUE {
            self.len = self.len.wrapping_add(1);
            true
        } else {
            self.head = self.head.wrapping_add(1) % EVENT_QUEUE;
            false
        }
    }

    /// The oldest event, removed.
    pub fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let e = self.ring.get_mut(self.head).and_then(Option::take);
        self.head = self.head.wrapping_add(1) % EVENT_QUEUE;
        self.len = self.len.saturating_sub(1);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_overwrites_the_oldest_event() {
        let mut q = Events::default();
        for _ in 0..EVENT_QUEUE {
            assert!(q.push(Event::Stray));
        }
        assert!(!q.push(Event::Reset));
        for _ in 0..EVENT_QUEUE - 1 {
            assert_eq!(q.pop(), Some(Event::Stray));
        }
        assert_eq!(q.pop(), Some(Event::Reset));
        assert_eq!(q.pop(), None);
    }
}
