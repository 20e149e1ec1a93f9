/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/byteorder-eb2316ab6e4822ca.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/libbyteorder-eb2316ab6e4822ca.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/tests-host/size-probe/target/thumbv7em-none-eabihf/release/deps/libbyteorder-eb2316ab6e4822ca.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs:
