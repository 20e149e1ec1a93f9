/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/nanoqga_size_probe-67b693fb4528c023.d: src/main.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/nanoqga_size_probe-67b693fb4528c023: src/main.rs

src/main.rs:
