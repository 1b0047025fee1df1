package io.kmem.internal.phys;

/** Page geometry shared by every layer: x86-64 4 KiB frames. */
public final class PhysLayout {
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    public static final long PAGE_MASK = ~(PAGE_SIZE - 1);

    private PhysLayout() {
    }

    public static boolean pageAligned(long x) {
        return (x & (PAGE_SIZE - 1)) == 0;
    }
}
