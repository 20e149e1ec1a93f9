/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/byteorder-d26e263dee6d774d.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/libbyteorder-d26e263dee6d774d.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/libbyteorder-d26e263dee6d774d.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs:
