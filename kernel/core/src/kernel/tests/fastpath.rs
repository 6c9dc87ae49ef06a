//! The fastpath has no semantics of its own: for every ipc it either does exactly what the
//! general path does, or nothing. These tests run the same ipc on two identical kernels, one
//! through the fastpath (falling back to the general path when it declines) and one through
//! the general path only, and compare the kernels' whole state.

use super::*;

/// Everything the kernel decides: threads (registers, states, queues, the fastpath's
/// copies), the running thread, the ready queues and the armed timeouts.
fn snapshot(kernel: &Kernel<FakeMachine>) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        kernel.threads,
        kernel.current(),
        kernel.scheduler,
        kernel.timeouts
    )
}

/// Run the running thread's ipc (registers already set) on `fast` through the fastpath if it
/// takes it, and on `general` through the general path. Returns whether the fastpath took it.
fn ipc_both(fast: &mut Kernel<FakeMachine>, general: &mut Kernel<FakeMachine>) -> bool {
    let before = snapshot(fast);
    let taken = match fast.ipc_fastpath() {
        Some(switch) => {
            let space = switch.space;
            let context = *switch.context;
            let message = *switch.message;
            let utcb = switch.utcb;
            let receiver = fast.current().unwrap();
            // The glue loads the receiver's x0..x7 from the sender's registers.
            let registers = &mut fast.thread_mut(receiver).unwrap().context.x;
            registers[..8].copy_from_slice(&message.x[..8]);
            let mut context = context;
            context.x[..8].copy_from_slice(&message.x[..8]);
            assert_eq!(context, fast.thread(receiver).unwrap().context);
            assert_eq!(utcb, fast.thread(receiver).unwrap().utcb);
            assert_eq!(
                Some(space),
                fast.machine
                    .fast_switch_value(fast.space_of(receiver).unwrap())
            );
            true
        }
        None => {
            assert_eq!(
                before,
                snapshot(fast),
                "a declining fastpath changed the kernel"
            );
            fast.kernel_call(Call::Ipc.number(), 0, 0);
            false
        }
    };
    general.kernel_call(Call::Ipc.number(), 0, 0);
    assert_eq!(snapshot(fast), snapshot(general));
    fast.check_invariants().unwrap();
    taken
}

/// Both kernels: `slot` runs and calls ipc with `arguments`.
fn ipc_on_both(
    fast: &mut Kernel<FakeMachine>,
    general: &mut Kernel<FakeMachine>,
    slot: ThreadSlot,
    arguments: IpcArguments,
) -> bool {
    for kernel in [&mut *fast, &mut *general] {
        run(kernel, slot);
        let registers = arguments.encode();
        kernel.thread_mut(slot).unwrap().context.x[..11].copy_from_slice(&registers);
    }
    ipc_both(fast, general)
}

#[test]
fn a_register_call_and_reply_take_the_fastpath_and_match_the_general_path() {
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let server = id(&fast, sigma0);
    let client = id(&fast, root);
    assert!(!ipc_on_both(&mut fast, &mut general, sigma0, open_wait()));
    let call = IpcArguments::call(server, tag(7, 3, 0), [11, 22, 33, 0, 0, 0, 0]);
    assert!(ipc_on_both(&mut fast, &mut general, root, call));
    assert_eq!(fast.current(), Some(sigma0));
    assert_eq!(x(&fast, sigma0, 8), client.raw());
    assert_eq!([x(&fast, sigma0, 1), x(&fast, sigma0, 3)], [11, 33]);
    let reply = IpcArguments::reply_and_wait(client, tag(0, 1, 0), [42, 0, 0, 0, 0, 0, 0]);
    assert!(ipc_on_both(&mut fast, &mut general, sigma0, reply));
    assert_eq!(fast.current(), Some(root));
    assert_eq!(x(&fast, root, 1), 42);
    assert_eq!(error_of(&fast, root), 0);
    assert_eq!(
        state(&fast, sigma0),
        ThreadState::Receiving {
            from: ReceiveFrom::Any
        }
    );
}

#[test]
fn the_fastpath_declines_everything_outside_its_common_case() {
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let server = id(&fast, sigma0);
    ipc_on_both(&mut fast, &mut general, sigma0, open_wait());
    // Eight words: MR8 lives in the UTCB.
    let long = IpcArguments::call(server, tag(1, 8, 0), [1; 7]);
    assert!(!ipc_on_both(&mut fast, &mut general, root, long));
    let client = id(&fast, root);
    let reply = IpcArguments::reply_and_wait(client, tag(0, 0, 0), [0; 7]);
    assert!(ipc_on_both(&mut fast, &mut general, sigma0, reply));
    // A receive timeout other than never must be armed.
    let mut timed = IpcArguments::call(server, tag(1, 0, 0), [0; 7]);
    timed.timeouts = Timeouts {
        send: Timeout::NEVER,
        receive: Timeout::from_microseconds(1_000).unwrap(),
    };
    assert!(!ipc_on_both(&mut fast, &mut general, root, timed));
    // ... and then cancelled when the reply comes: the general path again.
    assert!(!ipc_on_both(&mut fast, &mut general, sigma0, reply));
    // A typed item.
    let mapping = IpcArguments::call(server, tag(1, 0, 2), [0; 7]);
    assert!(!ipc_on_both(&mut fast, &mut general, root, mapping));
    // The server is not waiting for the client any more (it got an error): the client's
    // call queues it.
    let call = IpcArguments::call(server, tag(1, 0, 0), [0; 7]);
    assert!(!ipc_on_both(&mut fast, &mut general, root, call));
}

#[test]
fn a_server_with_a_waiting_sender_or_an_attached_interrupt_takes_the_general_path() {
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let other = spawn(&mut fast, 3, ThreadId::KERNEL_TASK, ThreadId::NIL);
    spawn(&mut general, 3, ThreadId::KERNEL_TASK, ThreadId::NIL);
    let server = id(&fast, sigma0);
    let client = id(&fast, root);
    ipc_on_both(&mut fast, &mut general, sigma0, open_wait());
    assert!(ipc_on_both(
        &mut fast,
        &mut general,
        root,
        IpcArguments::call(server, tag(1, 1, 0), [5; 7])
    ));
    // Another client queues itself while the server works.
    assert!(!ipc_on_both(
        &mut fast,
        &mut general,
        other,
        IpcArguments::call(server, tag(2, 1, 0), [6; 7])
    ));
    // The reply-and-wait must take the queued message at once: general path.
    let reply = IpcArguments::reply_and_wait(client, tag(0, 1, 0), [7; 7]);
    assert!(!ipc_on_both(&mut fast, &mut general, sigma0, reply));
    assert_eq!(
        x(&fast, sigma0, 0) >> 48,
        2,
        "the server got the queued call"
    );
}

#[test]
fn a_destination_whose_space_needs_a_full_switch_or_a_busier_scheduler_takes_the_general_path() {
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let server = id(&fast, sigma0);
    ipc_on_both(&mut fast, &mut general, sigma0, open_wait());
    let sigma0_space = fast.space_of(sigma0).unwrap().number;
    fast.machine.set_slow(sigma0_space, true);
    let call = IpcArguments::call(server, tag(1, 0, 0), [0; 7]);
    assert!(!ipc_on_both(&mut fast, &mut general, root, call));
    fast.machine.set_slow(sigma0_space, false);

    // A ready thread above the server's priority: the scheduler must choose.
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let busy = spawn(&mut fast, 3, ThreadId::KERNEL_TASK, ThreadId::NIL);
    spawn(&mut general, 3, ThreadId::KERNEL_TASK, ThreadId::NIL);
    for kernel in [&mut fast, &mut general] {
        kernel.set_scheduling(busy, 200, 10);
    }
    ipc_on_both(&mut fast, &mut general, sigma0, open_wait());
    assert!(!ipc_on_both(&mut fast, &mut general, root, call));
}

#[test]
fn a_call_across_a_clan_boundary_is_redirected_by_the_general_path() {
    let (mut fast, sigma0, _root) = boot();
    let (mut general, _, _) = boot();
    // Task 3 is in the root task's clan; sigma0 is outside it.
    let inner = spawn(&mut fast, 3, ROOT, ThreadId::NIL);
    spawn(&mut general, 3, ROOT, ThreadId::NIL);
    let server = id(&fast, sigma0);
    ipc_on_both(&mut fast, &mut general, sigma0, open_wait());
    let call = IpcArguments::call(server, tag(1, 0, 0), [0; 7]);
    assert!(!ipc_on_both(&mut fast, &mut general, inner, call));
}

#[test]
fn random_ipc_between_many_threads_matches_the_general_path_state_for_state() {
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let mut slots = vec![sigma0, root];
    for task in 3..7 {
        let chief = if task % 2 == 0 {
            ROOT
        } else {
            ThreadId::KERNEL_TASK
        };
        slots.push(spawn(&mut fast, task, chief, ThreadId::NIL));
        spawn(&mut general, task, chief, ThreadId::NIL);
    }
    let ids: Vec<u64> = slots.iter().map(|&slot| id(&fast, slot).raw()).collect();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut taken, mut declined) = (0u32, 0u32);
    for round in 0..40_000u32 {
        let Some(current) = fast.current() else {
            // Everyone blocked: unblock one the way lthread_ex_regs would, on both.
            let victim = slots[(next() % slots.len() as u64) as usize];
            for kernel in [&mut fast, &mut general] {
                kernel.cancel_ipc(victim, true, true);
                kernel.resume(victim);
                kernel.reschedule();
            }
            assert_eq!(snapshot(&fast), snapshot(&general));
            continue;
        };
        if next() % 50 == 0 {
            for kernel in [&mut fast, &mut general] {
                kernel.timer_tick();
            }
            continue;
        }
        // Favour partners that wait for the running thread, as servers and clients do.
        let waiting: Vec<u64> = slots
            .iter()
            .filter(|&&slot| {
                fast.thread(slot).is_some_and(|tcb| {
                    matches!(
                        tcb.state,
                        ThreadState::Receiving {
                            from: ReceiveFrom::Any
                        }
                    ) || tcb.state
                        == ThreadState::Receiving {
                            from: ReceiveFrom::Thread(current),
                        }
                })
            })
            .map(|&slot| id(&fast, slot).raw())
            .collect();
        let destination = match next() % 8 {
            0 => ThreadId::NIL.raw(),
            1..=4 if !waiting.is_empty() => waiting[(next() % waiting.len() as u64) as usize],
            _ => ids[(next() % ids.len() as u64) as usize],
        };
        let registers: [u64; 11] = [
            match next() % 8 {
                0 => next(),
                1 => tag(1, 9, 0).raw(),
                _ => tag((next() % 100) as u16, (next() % 8) as usize, 0).raw(),
            },
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            destination,
            match next() % 4 {
                0 | 1 => destination,
                2 => ThreadId::ANY.raw(),
                _ => ids[(next() % ids.len() as u64) as usize],
            },
            match next() % 8 {
                0 => 0,
                1 => next(),
                _ => u64::MAX,
            },
        ];
        for kernel in [&mut fast, &mut general] {
            kernel.thread_mut(current).unwrap().context.x[..11].copy_from_slice(&registers);
        }
        if ipc_both(&mut fast, &mut general) {
            taken += 1;
        } else {
            declined += 1;
        }
        let _ = round;
    }
    assert!(taken > 500, "the fastpath was taken only {taken} times");
    assert!(
        declined > 1_000,
        "the general path ran only {declined} times"
    );
}

#[test]
fn a_remembered_switch_value_is_used_only_in_its_epoch() {
    let (mut fast, sigma0, root) = boot();
    let (mut general, _, _) = boot();
    let server = id(&fast, sigma0);
    let client = id(&fast, root);
    let call = IpcArguments::call(server, tag(1, 1, 0), [3; 7]);
    let reply = IpcArguments::reply_and_wait(client, tag(0, 1, 0), [4; 7]);
    ipc_on_both(&mut fast, &mut general, sigma0, open_wait());
    // The first call remembers the server's switch value, the reply the client's.
    assert!(ipc_on_both(&mut fast, &mut general, root, call));
    assert!(ipc_on_both(&mut fast, &mut general, sigma0, reply));
    // A new epoch in which the server's space needs a full switch: the remembered value
    // must not be used. The client's space is unaffected.
    let sigma0_space = fast.space_of(sigma0).unwrap().number;
    fast.machine.set_slow(sigma0_space, true);
    assert!(!ipc_on_both(&mut fast, &mut general, root, call));
    assert!(ipc_on_both(&mut fast, &mut general, sigma0, reply));
    // And in the next epoch, when the space can be switched to again, the fastpath takes
    // the call once more.
    fast.machine.set_slow(sigma0_space, false);
    assert!(ipc_on_both(&mut fast, &mut general, root, call));
}
