package io.kmem.gfp;

import java.util.StringJoiner;

/**
 * GFP ("get free pages") flags: how an allocation may behave, as in the kernel's
 * {@code include/linux/gfp_types.h}. A {@code gfp_t} is an {@code int} here; combine with
 * {@code |}, as in C: {@code GFP_KERNEL | __GFP_ZERO}.
 *
 * <p>Three layers, as in the kernel: raw bits (private), the modifiers ({@code __GFP_*}) that
 * each change one thing, and the recommended combinations ({@code GFP_*}) that a driver
 * should normally pass.
 *
 * <h2>Which combination to use</h2>
 * <ul>
 *   <li>{@link #GFP_KERNEL}: ordinary driver code that may sleep. The allocator may grow the
 *       pool (take frames from the kernel), harvest contiguity for a high order, and wait,
 *       bounded, for another thread to free.</li>
 *   <li>{@link #GFP_ATOMIC}: code that must not sleep (an interrupt handler, a poll loop
 *       holding a lock). Never blocks; may use the reserve below the min watermark.</li>
 *   <li>{@link #GFP_NOWAIT}: must not sleep, but the allocation is optional: never blocks,
 *       gets no reserve, fails early.</li>
 *   <li>{@link #GFP_DMA}, {@link #GFP_DMA32}: add to one of the above for a device that can
 *       only address 16 MiB or 4 GiB.</li>
 * </ul>
 */
public final class Gfp {
    private static final int ___GFP_DMA = 0x01;
    private static final int ___GFP_DMA32 = 0x04;
    private static final int ___GFP_HIGH = 0x20;
    private static final int ___GFP_IO = 0x40;
    private static final int ___GFP_FS = 0x80;
    private static final int ___GFP_ZERO = 0x100;
    private static final int ___GFP_DIRECT_RECLAIM = 0x400;
    private static final int ___GFP_KSWAPD_RECLAIM = 0x800;
    private static final int ___GFP_NOWARN = 0x2000;
    private static final int ___GFP_NOFAIL = 0x8000;
    private static final int ___GFP_NORETRY = 0x10000;

    /** Zone modifier: only the DMA zone (physical addresses below 16 MiB). */
    public static final int __GFP_DMA = ___GFP_DMA;
    /** Zone modifier: the DMA32 and DMA zones (below 4 GiB). */
    public static final int __GFP_DMA32 = ___GFP_DMA32;
    /** High priority: may use the reserve below the min watermark. */
    public static final int __GFP_HIGH = ___GFP_HIGH;
    /** May start physical I/O (accepted for compatibility; kmem does no I/O). */
    public static final int __GFP_IO = ___GFP_IO;
    /** May call into the file system (accepted for compatibility). */
    public static final int __GFP_FS = ___GFP_FS;
    /** Zero the memory before returning it. */
    public static final int __GFP_ZERO = ___GFP_ZERO;
    /** May block: grow the pool, harvest contiguity, wait for frees. */
    public static final int __GFP_DIRECT_RECLAIM = ___GFP_DIRECT_RECLAIM;
    /** May wake background reclaim (accepted; kmem has no background thread). */
    public static final int __GFP_KSWAPD_RECLAIM = ___GFP_KSWAPD_RECLAIM;
    /** Both reclaim modifiers. */
    public static final int __GFP_RECLAIM = ___GFP_DIRECT_RECLAIM | ___GFP_KSWAPD_RECLAIM;
    /** No allocation-failure warning. */
    public static final int __GFP_NOWARN = ___GFP_NOWARN;
    /** Retry until served (blocking callers only); never returns NULL. */
    public static final int __GFP_NOFAIL = ___GFP_NOFAIL;
    /** One attempt: at most one growth of the pool, no harvest, no wait. */
    public static final int __GFP_NORETRY = ___GFP_NORETRY;

    /** May sleep: see the class comment. */
    public static final int GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
    /** Never sleeps, may use the reserve. */
    public static final int GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
    /** Never sleeps, no reserve. */
    public static final int GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
    /** As GFP_KERNEL without I/O. */
    public static final int GFP_NOIO = __GFP_RECLAIM;
    /** As GFP_KERNEL without file-system calls. */
    public static final int GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
    /** The DMA zone only; combine with one of the above. */
    public static final int GFP_DMA = __GFP_DMA;
    /** The DMA32 and DMA zones; combine with one of the above. */
    public static final int GFP_DMA32 = __GFP_DMA32;

    /** Every bit kmem knows; others are refused. */
    public static final int VALID_MASK = ___GFP_DMA | ___GFP_DMA32 | ___GFP_HIGH | ___GFP_IO | ___GFP_FS | ___GFP_ZERO
            | ___GFP_DIRECT_RECLAIM | ___GFP_KSWAPD_RECLAIM | ___GFP_NOWARN | ___GFP_NOFAIL | ___GFP_NORETRY;

    private static final int[] BITS = {___GFP_DMA, ___GFP_DMA32, ___GFP_HIGH, ___GFP_IO, ___GFP_FS, ___GFP_ZERO,
        ___GFP_NOWARN, ___GFP_NOFAIL, ___GFP_NORETRY};
    private static final String[] BIT_NAMES = {"__GFP_DMA", "__GFP_DMA32", "__GFP_HIGH", "__GFP_IO", "__GFP_FS",
        "__GFP_ZERO", "__GFP_NOWARN", "__GFP_NOFAIL", "__GFP_NORETRY"};

    private Gfp() {
    }

    /**
     * The one check every GFP-taking call makes: returns {@code gfp} when it has only bits of
     * {@link #VALID_MASK}.
     *
     * @param function the kernel call to name in the message, e.g. "kmalloc"
     * @param gfp      the flags to check
     * @return {@code gfp}, unchanged
     * @throws IllegalArgumentException naming {@code function} and the unknown bits otherwise
     */
    public static int check(String function, int gfp) {
        if ((gfp & ~VALID_MASK) != 0) {
            throw new IllegalArgumentException(function + ": unknown GFP bits 0x" + Integer.toHexString(gfp & ~VALID_MASK)
                    + " in gfp 0x" + Integer.toHexString(gfp) + " (" + names(gfp) + "); use the constants of"
                    + " io.kmem.gfp.Gfp");
        }
        return gfp;
    }

    /**
     * Whether the flags allow blocking ({@code __GFP_DIRECT_RECLAIM}).
     *
     * @param gfp GFP flags
     * @return true for {@code GFP_KERNEL} and its kin, false for {@code GFP_ATOMIC} and {@code GFP_NOWAIT}
     */
    public static boolean mayBlock(int gfp) {
        return (gfp & __GFP_DIRECT_RECLAIM) != 0;
    }

    /**
     * The flags as the kernel prints them ({@code %pGg}): the first of GFP_KERNEL, GFP_ATOMIC,
     * GFP_NOWAIT, GFP_NOIO, GFP_NOFS that the flags contain, then each remaining modifier:
     * {@code GFP_KERNEL|__GFP_ZERO}.
     *
     * @param gfp GFP flags, known or not
     * @return the names joined with {@code |}, unknown bits in hex, "0" for none
     */
    public static String names(int gfp) {
        StringJoiner j = new StringJoiner("|");
        int rest = gfp;
        int[] combos = {GFP_KERNEL, GFP_ATOMIC, GFP_NOFS, GFP_NOIO, GFP_NOWAIT};
        String[] comboNames = {"GFP_KERNEL", "GFP_ATOMIC", "GFP_NOFS", "GFP_NOIO", "GFP_NOWAIT"};
        for (int i = 0; i < combos.length; i++) {
            if ((rest & combos[i]) == combos[i]) {
                j.add(comboNames[i]);
                rest &= ~combos[i];
                break;
            }
        }
        if ((rest & __GFP_RECLAIM) == __GFP_RECLAIM) {
            j.add("__GFP_RECLAIM");
            rest &= ~__GFP_RECLAIM;
        }
        if ((rest & __GFP_DIRECT_RECLAIM) != 0) {
            j.add("__GFP_DIRECT_RECLAIM");
        }
        if ((rest & __GFP_KSWAPD_RECLAIM) != 0) {
            j.add("__GFP_KSWAPD_RECLAIM");
        }
        for (int i = 0; i < BITS.length; i++) {
            if ((rest & BITS[i]) != 0) {
                j.add(BIT_NAMES[i]);
            }
        }
        int unknown = gfp & ~VALID_MASK;
        if (unknown != 0) {
            j.add("0x" + Integer.toHexString(unknown));
        }
        return j.length() == 0 ? "0" : j.toString();
    }
}
