package io.kmem.internal.vmalloc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One busy area of the vmalloc window: the kernel's {@code vm_struct}. Immutable once
 * published, except for the segment made on demand.
 *
 * <p>{@link #idx} holds the frame index behind each page ({@code nrPages} of them; null for
 * an ioremap area, which maps a device, not frames). For a {@code vmalloc} area,
 * {@link #orders} tells how the frames came from the buddy: at the first page of each block,
 * the block's order; the pages inside a block carry nothing. A {@code vmap} area borrows its
 * frames, so it has no orders.
 */
public final class VmArea {
    /** The kernel's {@code VM_IOREMAP}: a device mapping. */
    public static final int VM_IOREMAP = 0x1;
    /** The kernel's {@code VM_ALLOC}: vmalloc'ed frames, freed by vfree. */
    public static final int VM_ALLOC = 0x2;
    /** The kernel's {@code VM_MAP}: vmap of pages the caller owns. */
    public static final int VM_MAP = 0x4;
    /** The kernel's {@code VM_USERMAP}: zeroed, meant to be mapped elsewhere (vmalloc_user). */
    public static final int VM_USERMAP = 0x8;

    final long start;
    /** Bytes that may be mapped, without the guard page. */
    final long size;
    final int flags;
    final int[] idx;
    final byte[] orders;
    final long physAddr;
    /**
     * Who asked for the area: the first {@link StackWalker.StackFrame} of the stack outside
     * kmem's API (formatted when reported), or a ready string (ioremap's); null if none.
     */
    private final Object callerFrame;
    private MemorySegment segment;
    private Arena arena;
    private boolean closed;

    VmArea(long start, long size, int flags, int[] idx, byte[] orders, long physAddr, Object callerFrame) {
        this.start = start;
        this.size = size;
        this.flags = flags;
        this.idx = idx;
        this.orders = orders;
        this.physAddr = physAddr;
        this.callerFrame = callerFrame;
    }

    /** Start address. */
    public long start() {
        return start;
    }

    /** Bytes that may be mapped, without the guard page. */
    public long size() {
        return size;
    }

    /** {@code VM_*} flags. */
    public int flags() {
        return flags;
    }

    /** Pages mapped from the pool's frames (0 for a device mapping). */
    public int nrPages() {
        return idx == null ? 0 : idx.length;
    }

    /** Physical address of a device mapping, 0 otherwise. */
    public long physAddr() {
        return physAddr;
    }

    /**
     * Where the area was asked for: {@code Class.method:line} of the first frame outside kmem's
     * API (formatted when asked: recording the frame is the cheaper half of the work).
     */
    public String caller() {
        if (!(callerFrame instanceof StackWalker.StackFrame f)) {
            return callerFrame == null ? "?" : callerFrame.toString();
        }
        String c = f.getClassName();
        return c.substring(c.lastIndexOf('.') + 1) + "." + f.getMethodName() + ":" + f.getLineNumber();
    }

    /** A segment over the whole area that stops working when the area goes ({@link #close}). */
    synchronized MemorySegment segment() {
        if (closed) {
            throw new IllegalStateException("the vmalloc area at 0x" + Long.toHexString(start) + " was freed");
        }
        if (segment == null) {
            arena = Arena.ofShared();
            segment = MemorySegment.ofAddress(start).reinterpret(size, arena, null);
        }
        return segment;
    }

    /** Invalidates the segment, if one was made: later accesses throw. */
    synchronized void close() {
        closed = true;
        if (arena != null) {
            arena.close();
        }
    }
}
