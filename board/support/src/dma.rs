//! DMA memory for virtio: one fixed arena, handed out by a first-fit heap.
//!
//! Contract: boards call [`init`] once with a static, page-aligned arena in
//! identity-mapped RAM (physical address = virtual address). Virtqueue rings
//! (whole pages) and the console's buffers are carved from it at driver
//! start-up and returned only when a driver restarts its device (after a
//! device reset, so nothing still points at them); [`stats`] reports what
//! is used. Running out is an error at driver start-up, never a panic.
//!
//! [`Dma`] implements virtio-drivers' `Hal` on top: allocation from the
//! arena, identity translation for buffers and MMIO.

use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use linked_list_allocator::LockedHeap;
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

static HEAP: LockedHeap = LockedHeap::empty();
static SIZE: AtomicUsize = AtomicUsize::new(0);

/// Hands the arena to the DMA heap. Calling it again has no effect.
///
/// # Safety
/// `arena` must be identity-mapped RAM that nothing else uses, for the rest
/// of the program.
pub unsafe fn init(arena: &'static mut [u8]) {
    if SIZE.load(Ordering::SeqCst) != 0 {
        return;
    }
    SIZE.store(arena.len(), Ordering::SeqCst);
    // SAFETY: the caller gives us exclusive use of `arena` for good.
    unsafe { HEAP.lock().init(arena.as_mut_ptr(), arena.len()) };
}

/// (bytes used, arena size).
pub fn stats() -> (usize, usize) {
    (HEAP.lock().used(), SIZE.load(Ordering::SeqCst))
}

/// Allocates zeroed memory from the arena (until [`free`]).
pub fn alloc(len: usize, align: usize) -> Option<&'static mut [u8]> {
    let layout = Layout::from_size_align(len.max(1), align).ok()?;
    let p = HEAP.lock().allocate_first_fit(layout).ok()?;
    // SAFETY: the heap returned `len` bytes that nobody else references; they
    // are never freed while the program runs.
    let s = unsafe { core::slice::from_raw_parts_mut(p.as_ptr(), len) };
    s.fill(0);
    Some(s)
}

/// Returns memory from [`alloc`] (same length and alignment) to the arena.
pub fn free(buf: &'static mut [u8], align: usize) {
    let Ok(layout) = Layout::from_size_align(buf.len().max(1), align) else {
        return;
    };
    let Some(p) = NonNull::new(buf.as_mut_ptr()) else {
        return;
    };
    // SAFETY: `buf` came from `alloc` with this layout and the caller gives
    // up its only reference.
    unsafe { HEAP.lock().deallocate(p, layout) };
}

/// virtio-drivers' `Hal` over the arena, for identity-mapped machines.
pub struct Dma;

// SAFETY: allocations are zeroed, page-aligned, contiguous and exclusive;
// with identity mapping the physical address is the virtual one, so `share`
// and `mmio_phys_to_virt` are the identity and `unshare` has nothing to do.
unsafe impl Hal for Dma {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let len = pages.saturating_mul(PAGE_SIZE);
        match alloc(len, PAGE_SIZE) {
            Some(s) => {
                let p = NonNull::from(s).cast::<u8>();
                (p.as_ptr() as PhysAddr, p)
            }
            // virtio-drivers turns a null page into a queue-setup error.
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // Queues are freed when a console restarts (after a device reset).
        let Ok(layout) = Layout::from_size_align(pages.saturating_mul(PAGE_SIZE), PAGE_SIZE) else {
            return -1;
        };
        // SAFETY: virtio-drivers frees exactly what `dma_alloc` returned for
        // this many pages, once, after the device stopped using it.
        unsafe { HEAP.lock().deallocate(vaddr, layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
