/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/nanoqga-b1f715e9ea6eb7ef.d: /work/main/src/lib.rs /work/main/src/agent.rs /work/main/src/base64.rs /work/main/src/commands/mod.rs /work/main/src/commands/control.rs /work/main/src/commands/core_cmds.rs /work/main/src/commands/exec.rs /work/main/src/commands/file.rs /work/main/src/commands/system.rs /work/main/src/config.rs /work/main/src/error.rs /work/main/src/json/mod.rs /work/main/src/json/frame.rs /work/main/src/json/lex.rs /work/main/src/json/out.rs /work/main/src/json/parse.rs /work/main/src/json/walk.rs /work/main/src/platform.rs /work/main/src/programs.rs /work/main/src/ramfs.rs /work/main/src/schema.rs /work/main/src/state.rs /work/main/src/trace.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/libnanoqga-b1f715e9ea6eb7ef.rlib: /work/main/src/lib.rs /work/main/src/agent.rs /work/main/src/base64.rs /work/main/src/commands/mod.rs /work/main/src/commands/control.rs /work/main/src/commands/core_cmds.rs /work/main/src/commands/exec.rs /work/main/src/commands/file.rs /work/main/src/commands/system.rs /work/main/src/config.rs /work/main/src/error.rs /work/main/src/json/mod.rs /work/main/src/json/frame.rs /work/main/src/json/lex.rs /work/main/src/json/out.rs /work/main/src/json/parse.rs /work/main/src/json/walk.rs /work/main/src/platform.rs /work/main/src/programs.rs /work/main/src/ramfs.rs /work/main/src/schema.rs /work/main/src/state.rs /work/main/src/trace.rs

/work/main/tests-host/size-probe/target/riscv64gc-unknown-none-elf/release/deps/libnanoqga-b1f715e9ea6eb7ef.rmeta: /work/main/src/lib.rs /work/main/src/agent.rs /work/main/src/base64.rs /work/main/src/commands/mod.rs /work/main/src/commands/control.rs /work/main/src/commands/core_cmds.rs /work/main/src/commands/exec.rs /work/main/src/commands/file.rs /work/main/src/commands/system.rs /work/main/src/config.rs /work/main/src/error.rs /work/main/src/json/mod.rs /work/main/src/json/frame.rs /work/main/src/json/lex.rs /work/main/src/json/out.rs /work/main/src/json/parse.rs /work/main/src/json/walk.rs /work/main/src/platform.rs /work/main/src/programs.rs /work/main/src/ramfs.rs /work/main/src/schema.rs /work/main/src/state.rs /work/main/src/trace.rs

/work/main/src/lib.rs:
/work/main/src/agent.rs:
/work/main/src/base64.rs:
/work/main/src/commands/mod.rs:
/work/main/src/commands/control.rs:
/work/main/src/commands/core_cmds.rs:
/work/main/src/commands/exec.rs:
/work/main/src/commands/file.rs:
/work/main/src/commands/system.rs:
/work/main/src/config.rs:
/work/main/src/error.rs:
/work/main/src/json/mod.rs:
/work/main/src/json/frame.rs:
/work/main/src/json/lex.rs:
/work/main/src/json/out.rs:
/work/main/src/json/parse.rs:
/work/main/src/json/walk.rs:
/work/main/src/platform.rs:
/work/main/src/programs.rs:
/work/main/src/ramfs.rs:
/work/main/src/schema.rs:
/work/main/src/state.rs:
/work/main/src/trace.rs:
