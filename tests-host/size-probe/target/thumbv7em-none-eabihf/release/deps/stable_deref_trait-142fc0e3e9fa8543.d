/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/stable_deref_trait-142fc0e3e9fa8543.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/libstable_deref_trait-142fc0e3e9fa8543.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/libstable_deref_trait-142fc0e3e9fa8543.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs:
