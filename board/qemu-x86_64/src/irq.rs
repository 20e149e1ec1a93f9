//! Interrupts as wake-ups: the 8259 PICs, an IDT whose handlers only mask
//! and acknowledge, and the PIT as a one-shot timer for deadlines.
//!
//! Contract:
//! * The main loop runs with interrupts off (IF = 0) and every PIC line
//!   masked. [`sleep`] unmasks the lines the drivers enabled ([`enable`]),
//!   plus the PIT's while a deadline is set, then runs `sti; hlt`: `sti`
//!   takes effect after `hlt` starts, so an interrupt already pending (a
//!   level still asserted, or an edge the PIC latched while its line was
//!   masked) ends the sleep at once. That closes the check-then-sleep race.
//! * Every handler masks all lines and acknowledges both PICs, nothing
//!   else. Device work happens in the main loop, which services every
//!   device after each wake-up. A level-triggered PCI line that stays
//!   asserted until the driver acknowledges the device therefore cannot
//!   storm.
//! * Both machines work the same way: `pc` (PIIX) and `q35` (ICH9) both
//!   have the two 8259s, and SeaBIOS routes the PCI INTx lines to ISA IRQs
//!   (10 and 11) and marks them level-triggered in the ELCR. The local APIC
//!   stays in the virtual-wire mode the firmware left it in.
//! * The PIT runs in mode 0 (one shot, at most 54.9 ms; a longer deadline
//!   simply wakes the loop, which sleeps again).

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU16, Ordering};

use crate::io::outb;

const PIC1_CMD: u8 = 0x20;
const PIC1_DATA: u8 = 0x21;
const PIC2_CMD: u8 = 0xA0;
const PIC2_DATA: u8 = 0xA1;
/// Vectors of IRQ 0–7 and 8–15 (clear of the CPU's exceptions, 0–31).
const VECTOR_BASE: u8 = 0x20;

const PIT_CH0: u16 = 0x40;
const PIT_CMD: u16 = 0x43;
/// The PIT's input clock.
const PIT_HZ: u64 = 1_193_182;
const TIMER_IRQ: u8 = 0;
const CASCADE_IRQ: u8 = 2;

/// Lines the drivers want to be woken by (bit n: IRQ n).
static ENABLED: AtomicU16 = AtomicU16::new(0);

/// One IDT gate: 16 bytes in long mode.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

const EMPTY_GATE: Gate = Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    attributes: 0,
    offset_mid: 0,
    offset_high: 0,
    reserved: 0,
};

#[repr(C, align(16))]
struct Idt([Gate; 256]);

/// The IDT: only the 16 PIC vectors are present. A CPU exception finds no
/// gate and ends in a triple fault, which resets the machine (as before
/// interrupts were used): the agent comes back.
static mut IDT: Idt = Idt([EMPTY_GATE; 256]);

global_asm!(
    r#"
    .section .text.irq, "ax"
    .global nanoqga_irq_wake
nanoqga_irq_wake:
    push rax
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    pop rax
    iretq
"#
);

unsafe extern "C" {
    /// The handler of every PIC vector (the assembly above).
    fn nanoqga_irq_wake();
}

/// Remaps and masks the PICs, loads the IDT, and leaves interrupts off.
/// Call once at boot, before any driver enables a line.
pub fn init() {
    let handler = nanoqga_irq_wake as *const () as u64;
    let cs: u16;
    // SAFETY: reading CS has no side effects.
    unsafe { asm!("mov {0:x}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    let gate = Gate {
        offset_low: handler as u16,
        selector: cs,
        ist: 0,
        // Present, DPL 0, 64-bit interrupt gate (IF cleared on entry).
        attributes: 0x8E,
        offset_mid: (handler >> 16) as u16,
        offset_high: (handler >> 32) as u32,
        reserved: 0,
    };
    // SAFETY: boot runs on one CPU with interrupts off; nothing else uses
    // the IDT yet. The pointer comes from the static itself.
    let idt = unsafe { &mut *core::ptr::addr_of_mut!(IDT) };
    for g in &mut idt.0[usize::from(VECTOR_BASE)..usize::from(VECTOR_BASE) + 16] {
        *g = gate;
    }
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let ptr = Pointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: idt as *const Idt as u64,
    };
    // SAFETY: the PIC ports belong to this image. ICW1–ICW4 re-initialise
    // both chips (vectors 0x20 and 0x28, cascade on IRQ 2, 8086 mode); the
    // ELCR (edge/level per line, set by the firmware) is a separate
    // register and keeps its value. Then every line is masked. `lidt` loads
    // a table that stays valid for the image's life (a static).
    unsafe {
        asm!("cli", options(nomem, nostack));
        outb(u16::from(PIC1_CMD), 0x11);
        outb(u16::from(PIC2_CMD), 0x11);
        outb(u16::from(PIC1_DATA), VECTOR_BASE);
        outb(u16::from(PIC2_DATA), VECTOR_BASE + 8);
        outb(u16::from(PIC1_DATA), 1 << CASCADE_IRQ);
        outb(u16::from(PIC2_DATA), CASCADE_IRQ);
        outb(u16::from(PIC1_DATA), 0x01);
        outb(u16::from(PIC2_DATA), 0x01);
        mask_all();
        asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags));
    }
    // A timer left periodic by the firmware would wake the loop 18 times a
    // second: stop it (mode 0 with a full count, and its line stays masked
    // until a deadline needs it).
    pit_oneshot(u16::MAX);
}

/// Masks every PIC line.
///
/// # Safety
/// The PIC data ports must belong to this image.
unsafe fn mask_all() {
    // SAFETY: per the caller.
    unsafe {
        outb(u16::from(PIC1_DATA), 0xFF);
        outb(u16::from(PIC2_DATA), 0xFF);
    }
}

/// Lets IRQ `line` wake the loop from now on.
pub fn enable(line: u8) {
    if line < 16 {
        ENABLED.fetch_or(1 << line, Ordering::Relaxed);
    }
}

/// Programs PIT channel 0 for one interrupt after `count` ticks.
fn pit_oneshot(count: u16) {
    let [lo, hi] = count.max(1).to_le_bytes();
    // SAFETY: the PIT's channel 0 belongs to this image (nothing else uses
    // it); mode 0, low byte then high byte.
    unsafe {
        outb(PIT_CMD, 0x30);
        outb(PIT_CH0, lo);
        outb(PIT_CH0, hi);
    }
}

/// Sleeps until an enabled line interrupts or `max_ns` passes (see the
/// module documentation). Interrupts are off again when it returns.
pub fn sleep(max_ns: Option<u64>) {
    let mut lines = ENABLED.load(Ordering::Relaxed);
    match max_ns {
        Some(0) => return,
        Some(ns) => {
            let ticks = (u128::from(ns) * u128::from(PIT_HZ) / 1_000_000_000)
                .clamp(1, u128::from(u16::MAX));
            pit_oneshot(ticks as u16);
            lines |= 1 << TIMER_IRQ;
        }
        None => {}
    }
    if lines & 0xFF00 != 0 {
        lines |= 1 << CASCADE_IRQ;
    }
    let [low, high] = (!lines).to_le_bytes();
    // SAFETY: the PIC's mask registers belong to this image. `sti; hlt`
    // with the handler installed by `init`: an interrupt pending now is
    // taken once `hlt` has started, which ends it. The handler masks every
    // line again; `cli` restores the main loop's interrupts-off state.
    unsafe {
        outb(u16::from(PIC1_DATA), low);
        outb(u16::from(PIC2_DATA), high);
        asm!("sti", "hlt", "cli", options(nomem, nostack));
        mask_all();
    }
}
