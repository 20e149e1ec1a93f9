//! guest-get-vcpus, guest-set-vcpus, guest-get-memory-blocks,
//! guest-set-memory-blocks, guest-get-memory-block-info.
//!
//! The setters keep qemu-ga's semantics: `guest-set-vcpus` returns how many
//! leading entries were processed and fails only when the first one does;
//! `guest-set-memory-blocks` answers one response per entry, in order.

use super::render::{Entries, Obj, list};
use super::{Call, Outcome, command, failed, unsupported};
use crate::args::{MemBlockListArg, NoArgs, VcpuListArg, elements, id_and_online};
use crate::arguments;
use crate::error::HookError;
use crate::platform::{MemoryBlock, MemoryBlockResponse, Platform, Vcpu};

arguments! {
    /// `guest-set-vcpus`.
    pub struct SetVcpusArgs {
        /// `GuestLogicalProcessor` entries.
        vcpus: VcpuListArg = "vcpus",
    }
}

arguments! {
    /// `guest-set-memory-blocks`.
    pub struct SetMemoryBlocksArgs {
        /// `GuestMemoryBlock` entries.
        mem_blks: MemBlockListArg = "mem-blks",
    }
}

command!(
    /// `guest-get-vcpus`.
    GUEST_GET_VCPUS = "guest-get-vcpus", NoArgs, get_vcpus
);
command!(
    /// `guest-set-vcpus`.
    GUEST_SET_VCPUS = "guest-set-vcpus", SetVcpusArgs, set_vcpus
);
command!(
    /// `guest-get-memory-blocks`.
    GUEST_GET_MEMORY_BLOCKS = "guest-get-memory-blocks", NoArgs, get_memory_blocks
);
command!(
    /// `guest-set-memory-blocks`.
    GUEST_SET_MEMORY_BLOCKS = "guest-set-memory-blocks", SetMemoryBlocksArgs, set_memory_blocks
);
command!(
    /// `guest-get-memory-block-info`: `{"size": n}`.
    GUEST_GET_MEMORY_BLOCK_INFO = "guest-get-memory-block-info", NoArgs, memory_block_info
);

fn get_vcpus<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        let cpus = p.processors().ok_or(HookError::Unsupported)?;
        cpus.vcpus(&mut |v: &Vcpu| {
            e.entry(|o| {
                let mut o = Obj::open(o);
                o.bool("online", v.online);
                o.opt_bool("can-offline", v.can_offline);
                o.int("logical-id", v.logical_id);
                o.close();
            })
        })
    }
    list(call, visit)
}

fn set_vcpus<P: Platform>(call: &mut Call<'_, '_, P>, args: SetVcpusArgs) -> Outcome {
    let rx: &[u8] = call.rx;
    let Some(cpus) = call.platform.processors() else {
        return unsupported(call.err);
    };
    let mut processed: i64 = 0;
    for elem in elements(rx, &args.vcpus) {
        let (id, _, online) = id_and_online(rx, &elem, "logical-id");
        match cpus.set_vcpu(id, online) {
            Ok(()) => processed = processed.wrapping_add(1),
            Err(e) if processed == 0 => return failed(call.err, e, "failed to set vCPU state"),
            Err(_) => break,
        }
    }
    call.out.i64(processed);
    Outcome::Done
}

fn get_memory_blocks<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    fn visit<P: Platform>(p: &mut P, e: &mut Entries<'_, '_>) -> Result<(), HookError> {
        let memory = p.memory().ok_or(HookError::Unsupported)?;
        memory.blocks(&mut |m: &MemoryBlock| {
            e.entry(|o| {
                let mut o = Obj::open(o);
                o.bool("online", m.online);
                o.opt_bool("can-offline", m.can_offline);
                o.uint("phys-index", m.phys_index);
                o.close();
            })
        })
    }
    list(call, visit)
}

/// Responses beyond the free reply space stop the processing (the client
/// sees a shorter list, as when qemu-ga stops early).
fn set_memory_blocks<P: Platform>(
    call: &mut Call<'_, '_, P>,
    args: SetMemoryBlocksArgs,
) -> Outcome {
    let rx: &[u8] = call.rx;
    let Some(memory) = call.platform.memory() else {
        return unsupported(call.err);
    };
    let out = &mut call.out;
    out.str("[");
    let mut first = true;
    for elem in elements(rx, &args.mem_blks) {
        let (_, index, online) = id_and_online(rx, &elem, "phys-index");
        let resp = match memory.set_block(index, online) {
            Ok(r) => r,
            Err(e) if first => return failed(call.err, e, "failed to set memory block state"),
            Err(_) => MemoryBlockResponse::OperationFailed(None),
        };
        let mark = out.len();
        if !first {
            out.str(", ");
        }
        let (text, code) = match resp {
            MemoryBlockResponse::Success => ("\"success\"", None),
            MemoryBlockResponse::NotFound => ("\"not-found\"", None),
            MemoryBlockResponse::OperationNotSupported => ("\"operation-not-supported\"", None),
            MemoryBlockResponse::OperationFailed(c) => ("\"operation-failed\"", c),
        };
        let mut o = Obj::open(out);
        o.raw("response", text);
        o.opt_int("error-code", code);
        o.uint("phys-index", index);
        o.close();
        if !out.ok() || out.remaining() < 1 {
            out.truncate(mark);
            break;
        }
        first = false;
    }
    out.str("]");
    Outcome::Done
}

fn memory_block_info<P: Platform>(call: &mut Call<'_, '_, P>, _: NoArgs) -> Outcome {
    let Some(memory) = call.platform.memory() else {
        return unsupported(call.err);
    };
    let size = match memory.block_size() {
        Ok(v) => v,
        Err(e) => return failed(call.err, e, "failed to query the guest"),
    };
    call.out.str("{\"size\": ");
    call.out.u64(size);
    call.out.str("}");
    Outcome::Done
}
