//! `make bench` end to end, but short: the `bench` binary boots the benchmark image
//! (tests/bench-programs, packed by `make images` into target/images/bench-initrd.cpio) under
//! `-icount` with 100 iterations per loop (boot argument `bench.iterations=100`), and every
//! figure must come out and parse. A benchmark is not a test: no figure is judged here, only
//! that the run ends cleanly and reports all of them (docs/performance.md has the numbers).

use std::path::PathBuf;
use std::process::Command;

/// Every figure `make bench` reports (the client's `FIGURES`, tests/bench-programs).
const FIGURES: [&str; 8] = [
    "empty_loop",
    "null_call",
    "thread_switch_yield",
    "ipc_call_reply_two_spaces",
    "ipc_call_reply_same_space",
    "ipc_one_way",
    "page_fault_user_pager",
    "interrupt_delivery",
];

fn output_path() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("kernel-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    directory.join("kernel.json")
}

#[test]
fn a_short_benchmark_run_reports_every_figure() {
    let output = output_path();
    let run = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--iterations", "100", "--timeout", "120", "--output"])
        .arg(&output)
        .env_remove("BENCH_ITERATIONS")
        .output()
        .expect("the bench binary starts");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "bench failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    let json = std::fs::read_to_string(&output).expect("bench wrote its JSON");
    let _ = std::fs::remove_dir_all(output.parent().expect("a directory"));
    assert!(json.contains("\"iterations\": 100,"), "{json}");
    for name in FIGURES {
        // `"name": {"instructions": <integer>, ...` on one line of the JSON...
        let key = format!("\"{name}\": {{\"instructions\": ");
        let line = json
            .lines()
            .find(|line| line.trim_start().starts_with(&key))
            .unwrap_or_else(|| panic!("no figure {name} in the JSON:\n{json}"));
        let value = &line.trim_start()[key.len()..];
        let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
        assert!(
            !digits.is_empty() && digits.parse::<u64>().is_ok(),
            "figure {name} is not an integer: {line}"
        );
        // ...and a row of the table.
        assert!(
            stdout
                .lines()
                .any(|row| row.split_whitespace().next() == Some(name)
                    && row
                        .split_whitespace()
                        .nth(1)
                        .is_some_and(|v| v.parse::<u64>().is_ok())),
            "no row for {name} in the table:\n{stdout}"
        );
    }
}
