//! Tumbling and hopping windows exactly as Kafka Streams' `TimeWindows`: `[start, end)`,
//! aligned to the epoch, a record in every window whose range holds its timestamp.

use bytes::Bytes;

/// One time window, `[start, end)`, ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// First ms in the window.
    pub start: i64,
    /// First ms past the window.
    pub end: i64,
}

/// Fixed-size windows advancing by `advance_ms` (tumbling: advance = size), with a grace
/// period during which out-of-order records are still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    /// Window length, ms (≥ 1).
    pub size_ms: i64,
    /// Distance between window starts, ms (1..=size).
    pub advance_ms: i64,
    /// How long past its end a window still accepts records, ms.
    pub grace_ms: i64,
}

impl TimeWindows {
    /// The windows holding `timestamp`, oldest first. Kafka's `TimeWindows.windowsFor`:
    /// the first start is `max(0, ts - size + advance)` rounded down to the advance, so
    /// no window starts before the epoch and a negative timestamp is in none.
    pub fn windows_for(&self, timestamp: i64) -> impl Iterator<Item = Window> + use<> {
        let (size, advance) = (self.size_ms, self.advance_ms);
        let first =
            (timestamp.saturating_sub(size).saturating_add(advance)).max(0) / advance * advance;
        (0..)
            .map(move |i: i64| first + i * advance)
            .take_while(move |&start| start <= timestamp)
            .map(move |start| Window {
                start,
                end: start.saturating_add(size),
            })
    }

    /// The window starting at `start`.
    pub fn window_at(&self, start: i64) -> Window {
        Window {
            start,
            end: start.saturating_add(self.size_ms),
        }
    }

    /// Whether `window` is closed at `stream_time`: its end plus grace is not after it
    /// (Kafka accepts a record into a window only while `end > stream time - grace`).
    pub fn closed(&self, window: Window, stream_time: i64) -> bool {
        window.end <= stream_time.saturating_sub(self.grace_ms)
    }

    /// The latest window start that is closed at `stream_time`: every window starting at
    /// or before it is closed, every later one open.
    pub fn last_closed_start(&self, stream_time: i64) -> i64 {
        stream_time
            .saturating_sub(self.grace_ms)
            .saturating_sub(self.size_ms)
    }

    /// Most windows one record falls in: ⌈size / advance⌉.
    pub fn windows_per_record(&self) -> i64 {
        (self.size_ms + self.advance_ms - 1) / self.advance_ms
    }
}

/// A window's `weir.window.start` and `weir.window.end` header values (decimal text),
/// made once for all of the window's results, which share them.
#[derive(Debug, Clone)]
pub(super) struct WindowHeaders {
    /// The window.
    pub(super) window: Window,
    /// `weir.window.start`.
    pub(super) start: Bytes,
    /// `weir.window.end`.
    pub(super) end: Bytes,
}

impl WindowHeaders {
    /// The header values of `window`.
    pub(super) fn of(window: Window) -> WindowHeaders {
        WindowHeaders {
            window,
            start: Bytes::from(window.start.to_string()),
            end: Bytes::from(window.end.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(w: TimeWindows, ts: i64) -> Vec<(i64, i64)> {
        w.windows_for(ts).map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn kafkas_hopping_example() {
        // Kafka's documentation: size 5000, advance 3000 gives [0,5000), [3000,8000), ...
        let w = TimeWindows {
            size_ms: 5000,
            advance_ms: 3000,
            grace_ms: 0,
        };
        assert_eq!(starts(w, 0), vec![(0, 5000)]);
        assert_eq!(starts(w, 3500), vec![(0, 5000), (3000, 8000)]);
        assert_eq!(starts(w, 4999), vec![(0, 5000), (3000, 8000)]);
        assert_eq!(starts(w, 5000), vec![(3000, 8000)]);
        assert_eq!(starts(w, 6000), vec![(3000, 8000), (6000, 11000)]);
        assert_eq!(w.windows_per_record(), 2);
    }

    #[test]
    fn tumbling_windows_are_aligned_to_the_epoch() {
        let w = TimeWindows {
            size_ms: 60_000,
            advance_ms: 60_000,
            grace_ms: 0,
        };
        assert_eq!(starts(w, 59_999), vec![(0, 60_000)]);
        assert_eq!(starts(w, 60_000), vec![(60_000, 120_000)]);
        assert_eq!(
            starts(w, 1_700_000_012_345),
            vec![(1_699_999_980_000, 1_700_000_040_000)]
        );
        assert!(starts(w, -1).is_empty());
    }

    #[test]
    fn a_window_closes_at_end_plus_grace() {
        let w = TimeWindows {
            size_ms: 10,
            advance_ms: 10,
            grace_ms: 5,
        };
        let win = w.window_at(0);
        assert!(!w.closed(win, 14));
        assert!(w.closed(win, 15));
        assert_eq!(w.last_closed_start(15), 0);
        assert_eq!(w.last_closed_start(14), -1);
    }
}
