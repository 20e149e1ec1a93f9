/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/nanoqga_size_probe-d7bf15758f38a076.d: src/main.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/nanoqga_size_probe-d7bf15758f38a076: src/main.rs

src/main.rs:
