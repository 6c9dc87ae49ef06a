//! Ipc timeouts: 32-bit relative microseconds, with "zero" and "never" as the two ends.
//!
//! L4 X.2 encodes timeouts in a 16-bit floating-point format (and absolute points in time)
//! so that two fit in one 32-bit register. With 64-bit registers we can afford a plain
//! count: a send and a receive timeout of 32 bits each share x10, and a timeout is just
//! microseconds, which a caller computes without a helper and the kernel converts to timer
//! ticks with one multiply. The range, up to 4294967294 µs (about 71.6 minutes), covers
//! every wait that is not "forever"; longer waits loop.
//!
//! - [`Timeout::ZERO`] (0): never block; the phase fails at once if the partner is not
//!   ready. (A relative timeout of 0 µs is the same thing.)
//! - [`Timeout::NEVER`] (`0xFFFF_FFFF`): block until the partner is ready.
//! - anything else: block at most that many microseconds, counted from the start of the
//!   phase (the receive timeout of a call starts when its send phase completes). The kernel
//!   rounds up to its timer's resolution: a timeout never expires early.

use core::fmt;
use core::time::Duration;

/// One ipc timeout. See the module documentation.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout(u32);

/// Why a duration cannot be a relative timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutError {
    /// Longer than [`Timeout::MAX_MICROSECONDS`]; use [`Timeout::NEVER`] or loop.
    TooLong,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::TooLong => write!(
                formatter,
                "timeout longer than {} microseconds",
                Timeout::MAX_MICROSECONDS
            ),
        }
    }
}

impl Timeout {
    /// Never block.
    pub const ZERO: Timeout = Timeout(0);
    /// Block as long as it takes.
    pub const NEVER: Timeout = Timeout(u32::MAX);
    /// The longest relative timeout.
    pub const MAX_MICROSECONDS: u32 = u32::MAX - 1;

    /// A relative timeout of `microseconds` (0 is [`Timeout::ZERO`]).
    pub const fn from_microseconds(microseconds: u32) -> Result<Timeout, TimeoutError> {
        if microseconds > Timeout::MAX_MICROSECONDS {
            Err(TimeoutError::TooLong)
        } else {
            Ok(Timeout(microseconds))
        }
    }

    /// A relative timeout of `duration`, rounded up to whole microseconds.
    pub const fn from_duration(duration: Duration) -> Result<Timeout, TimeoutError> {
        let nanoseconds = duration.as_nanos();
        let microseconds = nanoseconds.div_ceil(1000);
        if microseconds > Timeout::MAX_MICROSECONDS as u128 {
            Err(TimeoutError::TooLong)
        } else {
            Ok(Timeout(microseconds as u32))
        }
    }

    /// The 32-bit encoding. Every 32-bit value is a valid timeout.
    pub const fn from_raw(raw: u32) -> Timeout {
        Timeout(raw)
    }

    /// The 32-bit encoding.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The relative timeout in microseconds; `None` for [`Timeout::NEVER`].
    pub const fn microseconds(self) -> Option<u32> {
        if self.is_never() { None } else { Some(self.0) }
    }

    /// Whether this is [`Timeout::ZERO`].
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether this is [`Timeout::NEVER`].
    pub const fn is_never(self) -> bool {
        self.0 == u32::MAX
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Timeout({self})")
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.microseconds() {
            None => formatter.write_str("never"),
            Some(0) => formatter.write_str("zero"),
            Some(microseconds) => write!(formatter, "{microseconds}us"),
        }
    }
}

/// The send and receive timeouts of one ipc, as passed in x10: send timeout in bits
/// 63..32, receive timeout in bits 31..0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// How long the send phase may wait for the destination to be ready to receive.
    pub send: Timeout,
    /// How long the receive phase may wait for a message.
    pub receive: Timeout,
}

impl Timeouts {
    /// Both phases block as long as it takes: the usual client call.
    pub const NEVER: Timeouts = Timeouts {
        send: Timeout::NEVER,
        receive: Timeout::NEVER,
    };
    /// Neither phase blocks: polling.
    pub const ZERO: Timeouts = Timeouts {
        send: Timeout::ZERO,
        receive: Timeout::ZERO,
    };
    /// A server's reply-and-wait: the reply must not block the server (a client that is
    /// not waiting for its reply loses it), the wait for the next request may last.
    pub const REPLY_AND_WAIT: Timeouts = Timeouts {
        send: Timeout::ZERO,
        receive: Timeout::NEVER,
    };

    /// Bit position of the send timeout in x10.
    pub const SEND_SHIFT: u32 = 32;

    /// The value of x10.
    pub const fn to_register(self) -> u64 {
        ((self.send.raw() as u64) << Timeouts::SEND_SHIFT) | self.receive.raw() as u64
    }

    /// Decodes x10. Every value is valid.
    pub const fn from_register(value: u64) -> Timeouts {
        Timeouts {
            send: Timeout((value >> Timeouts::SEND_SHIFT) as u32),
            receive: Timeout(value as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_never_are_the_two_ends_of_the_range() {
        assert_eq!(Timeout::ZERO.raw(), 0);
        assert_eq!(Timeout::NEVER.raw(), 0xFFFF_FFFF);
        assert!(Timeout::ZERO.is_zero() && !Timeout::ZERO.is_never());
        assert!(Timeout::NEVER.is_never() && !Timeout::NEVER.is_zero());
        assert_eq!(Timeout::NEVER.microseconds(), None);
        assert_eq!(Timeout::ZERO.microseconds(), Some(0));
        assert_eq!(Timeout::from_microseconds(0), Ok(Timeout::ZERO));
    }

    #[test]
    fn the_longest_relative_timeout_is_one_below_never() {
        let longest = Timeout::from_microseconds(0xFFFF_FFFE).unwrap();
        assert_eq!(longest.microseconds(), Some(0xFFFF_FFFE));
        assert!(!longest.is_never());
        assert_eq!(
            Timeout::from_microseconds(0xFFFF_FFFF),
            Err(TimeoutError::TooLong)
        );
    }

    #[test]
    fn durations_round_up_to_whole_microseconds() {
        assert_eq!(
            Timeout::from_duration(Duration::from_nanos(1)),
            Timeout::from_microseconds(1)
        );
        assert_eq!(
            Timeout::from_duration(Duration::from_millis(10)),
            Timeout::from_microseconds(10_000)
        );
        assert_eq!(Timeout::from_duration(Duration::ZERO), Ok(Timeout::ZERO));
        assert_eq!(
            Timeout::from_duration(Duration::from_secs(4295)),
            Err(TimeoutError::TooLong)
        );
    }

    #[test]
    fn the_pair_packs_send_high_and_receive_low() {
        let timeouts = Timeouts {
            send: Timeout::from_microseconds(5).unwrap(),
            receive: Timeout::NEVER,
        };
        assert_eq!(timeouts.to_register(), 0x0000_0005_FFFF_FFFF);
        assert_eq!(Timeouts::from_register(0x0000_0005_FFFF_FFFF), timeouts);
        assert_eq!(Timeouts::NEVER.to_register(), u64::MAX);
        assert_eq!(Timeouts::ZERO.to_register(), 0);
        assert_eq!(Timeouts::REPLY_AND_WAIT.to_register(), 0xFFFF_FFFF);
    }

    #[test]
    fn every_register_value_round_trips() {
        for value in [
            0,
            1,
            u64::MAX,
            0x1234_5678_9ABC_DEF0,
            1 << 32,
            u32::MAX as u64,
        ] {
            assert_eq!(Timeouts::from_register(value).to_register(), value);
        }
    }

    #[test]
    fn timeouts_display_in_microseconds() {
        assert_eq!(Timeout::NEVER.to_string(), "never");
        assert_eq!(Timeout::ZERO.to_string(), "zero");
        assert_eq!(Timeout::from_raw(250).to_string(), "250us");
    }
}
