//! Power-off, reboot and halt.
//!
//! Power-off writes SLP_TYPa(S5) | SLP_EN to the FADT's PM1a control port
//! (0x604 on QEMU's q35 and pc if ACPI gave none). Reboot tries, in order, the
//! FADT reset register, the PCI reset control port 0xCF9, the keyboard
//! controller's reset line, and finally a triple fault. Halt stops the CPU
//! with interrupts off (QEMU keeps running; the agent stops answering), as
//! `shutdown -H` does. With QEMU's `-no-reboot`, every reset ends QEMU with
//! status 0.

use crate::acpi::Acpi;
use crate::io::{inb, outb, outw};

/// Stops the CPU for good.
pub fn halt() -> ! {
    loop {
        // SAFETY: with interrupts disabled, hlt stops the CPU; nothing else
        // runs on this machine.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Powers the machine off.
pub fn power_off(acpi: &Acpi) -> ! {
    let value = (acpi.s5_slp_typ << 10) | (1 << 13);
    // SAFETY: the PM1a control block belongs to the chipset's ACPI PM
    // device; writing SLP_EN with the S5 sleep type requests soft-off.
    unsafe {
        if let Some(port) = acpi.pm1a_cnt {
            outw(port, value);
        }
        outw(0x604, 0x2000);
    }
    halt()
}

fn settle() {
    for _ in 0..100_000 {
        core::hint::spin_loop();
    }
}

/// Resets the machine.
pub fn reboot(acpi: &Acpi) -> ! {
    // SAFETY: each write is a documented reset mechanism of the PC platform
    // (FADT RESET_REG, PCI reset control at 0xCF9, i8042 pulse); the machine
    // is meant to go away here.
    unsafe {
        if let Some((space, addr, value)) = acpi.reset {
            match space {
                1 => {
                    if let Ok(port) = u16::try_from(addr) {
                        outb(port, value);
                    }
                }
                0 => core::ptr::write_volatile(addr as *mut u8, value),
                _ => {}
            }
            settle();
        }
        outb(0xCF9, 0x02);
        outb(0xCF9, 0x06);
        settle();
        for _ in 0..10_000 {
            if inb(0x64) & 0x02 == 0 {
                break;
            }
        }
        outb(0x64, 0xFE);
        settle();
        // Last resort: a triple fault (empty IDT, then an exception).
        let idt: [u16; 5] = [0; 5];
        core::arch::asm!("lidt [{}]", "int3", in(reg) idt.as_ptr(), options(nostack));
    }
    halt()
}
