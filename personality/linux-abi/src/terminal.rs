//! Terminal values: the ioctl numbers a tty answers and the termios bits and indices a
//! line discipline needs.
//!
//! arm64 uses `asm-generic/ioctls.h` and `asm-generic/termbits.h` (with
//! `termbits-common.h`) unchanged. The structures themselves are in
//! [`crate::layout::Termios`] and [`crate::layout::Winsize`].

/// `TCGETS`: read the `struct termios`.
pub const TCGETS: u32 = 0x5401;
/// `TCSETS`: write it now.
pub const TCSETS: u32 = 0x5402;
/// `TCSETSW`: write it after output drains.
pub const TCSETSW: u32 = 0x5403;
/// `TCSETSF`: write it after output drains, discarding pending input.
pub const TCSETSF: u32 = 0x5404;
/// `TCSBRK` (`tcdrain` uses it with argument 1).
pub const TCSBRK: u32 = 0x5409;
/// `TCXONC` (`tcflow`).
pub const TCXONC: u32 = 0x540A;
/// `TCFLSH` (`tcflush`).
pub const TCFLSH: u32 = 0x540B;
/// `TIOCSCTTY`: make the terminal the controlling terminal.
pub const TIOCSCTTY: u32 = 0x540E;
/// `TIOCGPGRP`: read the foreground process group.
pub const TIOCGPGRP: u32 = 0x540F;
/// `TIOCSPGRP`: set the foreground process group.
pub const TIOCSPGRP: u32 = 0x5410;
/// `TIOCOUTQ`.
pub const TIOCOUTQ: u32 = 0x5411;
/// `TIOCGWINSZ`: read the `struct winsize`.
pub const TIOCGWINSZ: u32 = 0x5413;
/// `TIOCSWINSZ`: write the `struct winsize`.
pub const TIOCSWINSZ: u32 = 0x5414;
/// `FIONREAD` (`TIOCINQ`): bytes ready to read.
pub const FIONREAD: u32 = 0x541B;
/// `FIONBIO`: set or clear `O_NONBLOCK`.
pub const FIONBIO: u32 = 0x5421;
/// `TIOCNOTTY`: give up the controlling terminal.
pub const TIOCNOTTY: u32 = 0x5422;
/// `TIOCGSID`: read the terminal's session.
pub const TIOCGSID: u32 = 0x5429;
/// `FIONCLEX`: clear `FD_CLOEXEC`.
pub const FIONCLEX: u32 = 0x5450;
/// `FIOCLEX`: set `FD_CLOEXEC`.
pub const FIOCLEX: u32 = 0x5451;

/// `TCFLSH` argument `TCIFLUSH`: discard received, unread input.
pub const TCIFLUSH: u32 = 0;
/// `TCFLSH` argument `TCOFLUSH`: discard written, untransmitted output.
pub const TCOFLUSH: u32 = 1;
/// `TCFLSH` argument `TCIOFLUSH`: both.
pub const TCIOFLUSH: u32 = 2;

/// `NCCS`: the number of control characters in the kernel's `struct termios`.
pub const NCCS: usize = 19;

/// `VINTR`: index of the interrupt character (`^C`).
pub const VINTR: usize = 0;
/// `VQUIT`: index of the quit character (`^\`).
pub const VQUIT: usize = 1;
/// `VERASE`: index of the erase character (DEL).
pub const VERASE: usize = 2;
/// `VKILL`: index of the kill-line character (`^U`).
pub const VKILL: usize = 3;
/// `VEOF`: index of the end-of-file character (`^D`).
pub const VEOF: usize = 4;
/// `VTIME`: index of the non-canonical read timeout, in tenths of a second.
pub const VTIME: usize = 5;
/// `VMIN`: index of the non-canonical minimum read count.
pub const VMIN: usize = 6;
/// `VSWTC`: index of the switch character (unused by Linux's line discipline).
pub const VSWTC: usize = 7;
/// `VSTART`: index of the start character (`^Q`).
pub const VSTART: usize = 8;
/// `VSTOP`: index of the stop character (`^S`).
pub const VSTOP: usize = 9;
/// `VSUSP`: index of the suspend character (`^Z`).
pub const VSUSP: usize = 10;
/// `VEOL`: index of the additional end-of-line character.
pub const VEOL: usize = 11;
/// `VREPRINT`: index of the reprint-line character (`^R`).
pub const VREPRINT: usize = 12;
/// `VDISCARD`: index of the discard character (`^O`, not acted on by Linux).
pub const VDISCARD: usize = 13;
/// `VWERASE`: index of the word-erase character (`^W`).
pub const VWERASE: usize = 14;
/// `VLNEXT`: index of the literal-next character (`^V`).
pub const VLNEXT: usize = 15;
/// `VEOL2`: index of the second additional end-of-line character.
pub const VEOL2: usize = 16;

/// `c_iflag` `BRKINT`.
pub const BRKINT: u32 = 0x002;
/// `c_iflag` `ISTRIP`.
pub const ISTRIP: u32 = 0x020;
/// `c_iflag` `INLCR`: map NL to CR on input.
pub const INLCR: u32 = 0x040;
/// `c_iflag` `IGNCR`: ignore CR on input.
pub const IGNCR: u32 = 0x080;
/// `c_iflag` `ICRNL`: map CR to NL on input.
pub const ICRNL: u32 = 0x100;
/// `c_iflag` `IXON`: start/stop output control.
pub const IXON: u32 = 0x0400;
/// `c_iflag` `IUTF8`.
pub const IUTF8: u32 = 0x4000;

/// `c_oflag` `OPOST`: process output.
pub const OPOST: u32 = 0x01;
/// `c_oflag` `ONLCR`: map NL to CR-NL on output.
pub const ONLCR: u32 = 0x04;
/// `c_oflag` `OCRNL`: map CR to NL on output.
pub const OCRNL: u32 = 0x08;
/// `c_oflag` `ONOCR`: output no CR at column 0.
pub const ONOCR: u32 = 0x10;
/// `c_oflag` `ONLRET`: NL performs the CR function.
pub const ONLRET: u32 = 0x20;

/// `c_cflag` `CS8`: eight data bits.
pub const CS8: u32 = 0x30;
/// `c_cflag` `CREAD`: enable the receiver.
pub const CREAD: u32 = 0x80;
/// `c_cflag` `HUPCL`: hang up on last close.
pub const HUPCL: u32 = 0x400;
/// `c_cflag` `B38400`, the speed Linux reports for a console.
pub const B38400: u32 = 0x0f;

/// `c_lflag` `ISIG`: generate signals for INTR, QUIT and SUSP.
pub const ISIG: u32 = 0x00001;
/// `c_lflag` `ICANON`: canonical (line-by-line) input.
pub const ICANON: u32 = 0x00002;
/// `c_lflag` `ECHO`.
pub const ECHO: u32 = 0x00008;
/// `c_lflag` `ECHOE`: ERASE erases the previous character visually.
pub const ECHOE: u32 = 0x00010;
/// `c_lflag` `ECHOK`: echo NL after KILL.
pub const ECHOK: u32 = 0x00020;
/// `c_lflag` `ECHONL`: echo NL even without ECHO.
pub const ECHONL: u32 = 0x00040;
/// `c_lflag` `NOFLSH`: do not flush on INTR, QUIT, SUSP.
pub const NOFLSH: u32 = 0x00080;
/// `c_lflag` `TOSTOP`: send `SIGTTOU` to background writers.
pub const TOSTOP: u32 = 0x00100;
/// `c_lflag` `ECHOCTL`: echo control characters as `^X`.
pub const ECHOCTL: u32 = 0x00200;
/// `c_lflag` `ECHOKE`: KILL erases the line visually.
pub const ECHOKE: u32 = 0x00800;
/// `c_lflag` `IEXTEN`: implementation-defined input processing.
pub const IEXTEN: u32 = 0x08000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_ioctls_match_the_generic_header() {
        assert_eq!(TCGETS, 0x5401);
        assert_eq!(TCSETS, 0x5402);
        assert_eq!(TCSETSW, 0x5403);
        assert_eq!(TCSETSF, 0x5404);
        assert_eq!(TIOCGPGRP, 0x540F);
        assert_eq!(TIOCSPGRP, 0x5410);
        assert_eq!(TIOCGWINSZ, 0x5413);
        assert_eq!(TIOCSWINSZ, 0x5414);
        assert_eq!(FIONREAD, 0x541B);
    }

    #[test]
    fn line_discipline_bits_match_the_generic_header() {
        assert_eq!((ISIG, ICANON, ECHO, ECHOE), (1, 2, 8, 0x10));
        assert_eq!((ICRNL, OPOST, ONLCR), (0x100, 1, 4));
        assert_eq!(
            (VINTR, VERASE, VKILL, VEOF, VTIME, VMIN),
            (0, 2, 3, 4, 5, 6)
        );
        assert_eq!((VSWTC, VREPRINT, VDISCARD, VEOL2), (7, 12, 13, 16));
        assert_eq!((OCRNL, ONOCR, ONLRET, HUPCL), (0x08, 0x10, 0x20, 0x400));
        assert_eq!((TCIFLUSH, TCOFLUSH, TCIOFLUSH), (0, 1, 2));
    }
}
