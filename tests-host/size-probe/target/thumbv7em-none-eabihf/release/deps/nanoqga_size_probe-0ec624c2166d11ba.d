/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/nanoqga_size_probe-0ec624c2166d11ba.d: src/main.rs

/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/nanoqga_size_probe-0ec624c2166d11ba: src/main.rs

src/main.rs:
