//! The agent's RAM at the default (bare-metal) capacities, checked against
//! the figure the README and `config::DEFAULT_AGENT_RAM` state.

#[test]
fn default_storage_and_agent_fit_the_stated_ram() {
    struct B;
    impl nanoqga::Platform for B {}
    let storage = std::mem::size_of::<nanoqga::Storage>();
    let agent = std::mem::size_of::<nanoqga::Agent<'static, B>>();
    eprintln!(
        "Storage {storage} B + Agent {agent} B = {} B",
        storage + agent
    );
    // The stated buffers and tables are inside it; the rest is bookkeeping.
    assert!(nanoqga::config::DEFAULT_AGENT_RAM <= storage);
    assert!(
        storage - nanoqga::config::DEFAULT_AGENT_RAM <= 512,
        "bookkeeping {storage} B"
    );
    assert!(storage + agent <= 16 * 1024, "agent RAM over 16 KiB");
}
