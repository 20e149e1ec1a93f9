//! Times `fuzzing::agent` over a directory of inputs (profiling aid).
fn main() {
    let dir = std::env::args().nth(1).expect("dir");
    let mut inputs = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        inputs.push(std::fs::read(e.path()).expect("read"));
    }
    let t = std::time::Instant::now();
    for _ in 0..5 {
        for i in &inputs {
            nanoqga_tests_host::fuzzing::agent(i);
        }
    }
    let n = inputs.len() * 5;
    println!(
        "{n} inputs, {:.1} µs each",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
