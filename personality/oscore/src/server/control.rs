//! `prctl`: the operations on the calling process a shell and its tools use, Linux's
//! semantics for each, `EINVAL` for the rest (as Linux answers an option it does not know).
//!
//! - `PR_SET_NAME` / `PR_GET_NAME`: the process name (`comm`, 15 bytes), which `execve`
//!   sets to the last component of the program's path.
//! - `PR_SET_PDEATHSIG` / `PR_GET_PDEATHSIG`: a signal sent to the process when its parent
//!   ends (with the effect `signals.rs` describes); a forked child starts without one.
//! - `PR_GET_DUMPABLE` / `PR_SET_DUMPABLE`: recorded (no core is ever written); `execve`
//!   makes the process dumpable again.
//! - `PR_SET_NO_NEW_PRIVS` / `PR_GET_NO_NEW_PRIVS`: recorded and inherited; nothing here
//!   grants privileges on `execve` (no set-user-ID), so it changes nothing else.

use linux_abi::errno::Errno;
use linux_abi::signal::Signal;

use super::record::NAME_LENGTH;
use super::{Server, running};
use crate::memory::Frames;
use crate::process::Pid;

/// `PR_SET_PDEATHSIG`.
pub const PR_SET_PDEATHSIG: i32 = 1;
/// `PR_GET_PDEATHSIG`.
pub const PR_GET_PDEATHSIG: i32 = 2;
/// `PR_GET_DUMPABLE`.
pub const PR_GET_DUMPABLE: i32 = 3;
/// `PR_SET_DUMPABLE`.
pub const PR_SET_DUMPABLE: i32 = 4;
/// `PR_SET_NAME`.
pub const PR_SET_NAME: i32 = 15;
/// `PR_GET_NAME`.
pub const PR_GET_NAME: i32 = 16;
/// `PR_SET_NO_NEW_PRIVS`.
pub const PR_SET_NO_NEW_PRIVS: i32 = 38;
/// `PR_GET_NO_NEW_PRIVS`.
pub const PR_GET_NO_NEW_PRIVS: i32 = 39;

impl<F: Frames> Server<F> {
    /// `prctl(option, arg2, arg3, arg4, arg5)`; `arguments` are the call's six registers.
    pub(super) fn prctl(
        &mut self,
        pid: Pid,
        option: i32,
        arguments: &[u64; 6],
    ) -> Result<u64, Errno> {
        let [_, second, third, fourth, fifth, _] = *arguments;
        let process = running(&mut self.processes, pid)?;
        let control = &mut process.control;
        match option {
            PR_SET_NAME => {
                // Linux copies up to 15 bytes, stopping at a NUL (`strncpy_from_user`); only
                // unreadable memory before both is EFAULT.
                let limit = NAME_LENGTH - 1;
                let name = match process.space.read_c_string(&mut self.frames, second, limit) {
                    Ok(name) => name,
                    Err(Errno::ENAMETOOLONG) => {
                        let mut name = alloc::vec![0u8; limit];
                        process.space.read(&mut self.frames, second, &mut name)?;
                        name
                    }
                    Err(error) => return Err(error),
                };
                process.control.set_name(&name);
                Ok(0)
            }
            PR_GET_NAME => {
                let name = control.name;
                process.space.write(&mut self.frames, second, &name)?;
                Ok(0)
            }
            PR_SET_PDEATHSIG => {
                control.parent_death_signal = match second {
                    0 => None,
                    number => Some(Signal::new(number).ok_or(Errno::EINVAL)?),
                };
                Ok(0)
            }
            PR_GET_PDEATHSIG => {
                let number = control
                    .parent_death_signal
                    .map_or(0, |signal| signal.number());
                process
                    .space
                    .write_u32(&mut self.frames, second, number as u32)?;
                Ok(0)
            }
            PR_GET_DUMPABLE => Ok(u64::from(control.dumpable)),
            PR_SET_DUMPABLE => {
                control.dumpable = match second {
                    0 => false,
                    1 => true,
                    _ => return Err(Errno::EINVAL),
                };
                Ok(0)
            }
            PR_SET_NO_NEW_PRIVS => {
                if second != 1 || third != 0 || fourth != 0 || fifth != 0 {
                    return Err(Errno::EINVAL);
                }
                control.no_new_privileges = true;
                Ok(0)
            }
            PR_GET_NO_NEW_PRIVS => {
                if second != 0 || third != 0 || fourth != 0 || fifth != 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(u64::from(control.no_new_privileges))
            }
            _ => Err(Errno::EINVAL),
        }
    }
}
