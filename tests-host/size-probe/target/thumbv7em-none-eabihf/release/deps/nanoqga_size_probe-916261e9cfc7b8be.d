/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/nanoqga_size_probe-916261e9cfc7b8be.d: src/main.rs

/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/nanoqga_size_probe-916261e9cfc7b8be: src/main.rs

src/main.rs:
