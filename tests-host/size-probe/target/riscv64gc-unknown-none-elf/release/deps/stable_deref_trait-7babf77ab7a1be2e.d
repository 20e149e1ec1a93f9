/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/stable_deref_trait-7babf77ab7a1be2e.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/libstable_deref_trait-7babf77ab7a1be2e.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/libstable_deref_trait-7babf77ab7a1be2e.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs:
