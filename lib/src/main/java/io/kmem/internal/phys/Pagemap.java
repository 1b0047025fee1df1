package io.kmem.internal.phys;

import io.kmem.bindings.Libc;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reads {@code /proc/self/pagemap}: one 64-bit entry per virtual page of this process.
 *
 * <pre>
 *  63   62    61   60..57 56    55   54                                        0
 *  +----+----+----+------+----+----+-------------------------------------------+
 *  |pres|swap|file|  0   |excl|soft|       PFN (0 without CAP_SYS_ADMIN)       |
 *  +----+----+----+------+----+----+-------------------------------------------+
 * </pre>
 *
 * Reads are batched: one {@code pread} per up to {@value #BATCH} pages.
 */
final class Pagemap implements AutoCloseable {
    static final String PATH = "/proc/self/pagemap";
    static final long PRESENT = 1L << 63;
    static final long PFN_MASK = (1L << 55) - 1;
    private static final int BATCH = 1 << 16;

    private final int fd;

    Pagemap() {
        this.fd = Sys.open(PATH, Libc.O_RDONLY() | Libc.O_CLOEXEC());
    }

    /**
     * Fills {@code out[outPos .. outPos + pages)} with the raw entries of the pages starting
     * at virtual address {@code vaddr}.
     */
    void read(long vaddr, int pages, long[] out, int outPos) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate((long) Math.min(pages, BATCH) * 8, 8);
            int done = 0;
            while (done < pages) {
                int n = Math.min(pages - done, BATCH);
                long vpage = (vaddr >>> PhysLayout.PAGE_SHIFT) + done;
                long got = Sys.pread(fd, buf, n * 8L, vpage * 8);
                if (got != n * 8L) {
                    throw new IllegalStateException("short read of " + PATH + ": " + got + " of " + n * 8L + " bytes");
                }
                MemorySegment.copy(buf, ValueLayout.JAVA_LONG, 0, out, outPos + done, n);
                done += n;
            }
        }
    }

    /** The entry of the single page at {@code vaddr}. */
    long entry(long vaddr) {
        long[] one = new long[1];
        read(vaddr, 1, one, 0);
        return one[0];
    }

    static boolean present(long entry) {
        return (entry & PRESENT) != 0;
    }

    static long pfn(long entry) {
        return entry & PFN_MASK;
    }

    @Override
    public void close() {
        Sys.close(fd);
    }
}
