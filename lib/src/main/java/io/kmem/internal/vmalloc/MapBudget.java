package io.kmem.internal.vmalloc;

import io.kmem.internal.lib.LazyLogger;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The process's mappings ({@code vm.max_map_count}) that vmalloc areas may take. The kernel's
 * vmalloc writes page tables and has no such limit; here every area is at least one mapping
 * (VMA): one per run of memfd-consecutive frames, the guard page a guard region inside the
 * last run's mapping (Linux 6.15 and later; before, a {@code PROT_NONE} mapping of its own,
 * two mappings per one-page area). Past the limit {@code mmap} fails with ENOMEM, and so do
 * the JVM's own mappings (thread stacks, code cache, heap commits): it aborts ("insufficient
 * memory ... committing reserved memory"). So vmalloc never takes the process past the limit
 * less a reserve left to the JVM.
 *
 * <h2>Notation</h2>
 * <ul>
 *   <li><b>L</b>: {@code vm.max_map_count}, read again at each count.</li>
 *   <li><b>R</b>: the reserve, {@code max(8192, L / 10)}: never taken by vmalloc.</li>
 *   <li><b>C</b>: lines of {@code /proc/self/maps} at the last count: every mapping of the
 *       process, the JVM's, the direct map's and other pools' included.</li>
 *   <li><b>S</b>: mappings charged for areas since that count, each area at its worst case.</li>
 *   <li><b>headroom</b> = {@code L - R - C - S}: what meminfo shows as {@code VmallocMapsFree}.</li>
 * </ul>
 *
 * <h2>Steps</h2>
 * <ol>
 *   <li>{@link #charge}: before an area is mapped, with {@code n} = its runs + 2 (the runs, the
 *       guard page, the split of the free range it lands in). When {@code C + S + n <= L - R},
 *       {@code S += n}: done, no I/O. Freeing an area charges nothing back (how many mappings
 *       it gives back depends on its neighbours); it only allows the next count.</li>
 *   <li>Otherwise count again ({@code C} = the lines now, {@code S = 0}, {@code L} re-read) and
 *       check again. The count reads the whole maps file, milliseconds at 60,000 mappings: it
 *       happens when the charges made since the last count reach the headroom that count
 *       left, a few dozen times on the way from an empty window to the limit. When the last
 *       count itself came up short, the next waits for a free or 100 ms, so that callers
 *       retrying at the limit do not read the file each time.</li>
 *   <li>Still short: when raising is allowed, write {@code max(2L, 2(C + S + n + R))} to
 *       {@code /proc/sys/vm/max_map_count} (root only) and warn with the old and the new value,
 *       as the direct map does. Otherwise, or when the write fails (once: the reason is kept),
 *       refuse with the figures: vmalloc returns NULL with its allocation-failure warning.</li>
 * </ol>
 * One budget serves every pool of the process ({@link #host}), since the limit is the
 * process's; tests build their own over a file of their choosing.
 *
 * <h2>Locking</h2>
 * The budget's monitor, a leaf: held for the check, and across a count or a raise (both rare).
 */
final class MapBudget {
    /** The sysctl. */
    static final Path MAX_MAP_COUNT = Path.of("/proc/sys/vm/max_map_count");
    /** The kernel's default limit, assumed when the sysctl cannot be read. */
    private static final long DEFAULT_LIMIT = 65530;
    /** The smallest reserve left to the JVM. */
    static final long MIN_RESERVE = 8192;
    private static final long RECOUNT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final System.Logger LOG = LazyLogger.of("io.kmem.internal.vmalloc");
    private static final MapBudget HOST = new MapBudget(MAX_MAP_COUNT, true, -1);

    private final Path limitFile;
    private final boolean mayRaise;
    private final long fixedReserve;
    private long limit;
    private long counted;
    private long countedAt;
    private long charged;
    private boolean freedSinceCount;
    /** The last count left too little room: the next is only worth it after a free or 100 ms. */
    private boolean countShort;
    private String raiseRefused;

    /**
     * A budget against the limit in {@code limitFile}, raised there when {@code mayRaise};
     * {@code reserve} mappings left to the JVM, or -1 for {@code max(8192, L / 10)}.
     */
    MapBudget(Path limitFile, boolean mayRaise, long reserve) {
        this.limitFile = limitFile;
        this.mayRaise = mayRaise;
        this.fixedReserve = reserve;
        recount(System.nanoTime());
    }

    /** The budget of this process, against the real sysctl. */
    static MapBudget host() {
        return HOST;
    }

    /**
     * Charges {@code n} mappings for an area of pool {@code pool}; returns null when they are
     * had, else why not (for the allocation-failure warning).
     */
    synchronized String charge(String pool, long n) {
        if (fits(n)) {
            charged += n;
            return null;
        }
        long now = System.nanoTime();
        if (!countShort || freedSinceCount || now - countedAt >= RECOUNT_NANOS) {
            recount(now);
            countShort = !fits(n);
            if (!countShort) {
                charged += n;
                return null;
            }
        }
        if (raise(pool, n)) {
            charged += n;
            return null;
        }
        return "the process holds about " + (counted + charged) + " mappings (" + counted + " counted in"
                + " /proc/self/maps, " + charged + " taken by vmalloc since) and vm.max_map_count is " + limit
                + ", of which kmem leaves " + reserve(limit) + " to the JVM; an area needs up to " + n + " more"
                + (raiseRefused != null ? "; raising the limit failed (" + raiseRefused + "): run as root or sysctl"
                        + " vm.max_map_count=" + target(n) : mayRaise ? "" : "; raising the limit is off")
                + "; vfree areas or use fewer, larger ones";
    }

    /** Notes that an area was freed: mappings may have come back, the next shortage counts again. */
    synchronized void freed() {
        freedSinceCount = true;
    }

    /** {@code L - R - C - S}, never negative: mappings vmalloc may still take without raising the limit. */
    synchronized long headroom() {
        return Math.max(0, limit - reserve(limit) - counted - charged);
    }

    /** {@code vm.max_map_count} as last read or raised. */
    synchronized long limit() {
        return limit;
    }

    private boolean fits(long n) {
        return counted + charged + n <= limit - reserve(limit);
    }

    private long reserve(long l) {
        return fixedReserve >= 0 ? fixedReserve : Math.max(MIN_RESERVE, l / 10);
    }

    private long target(long n) {
        return Math.min(Integer.MAX_VALUE, Math.max(2 * limit, 2 * (counted + charged + n + reserve(limit))));
    }

    private void recount(long now) {
        limit = readLimit();
        counted = countMaps();
        charged = 0;
        countedAt = now;
        freedSinceCount = false;
    }

    private boolean raise(String pool, long n) {
        if (!mayRaise || raiseRefused != null) {
            return false;
        }
        limit = readLimit();
        long old = limit;
        long target = target(n);
        if (fits(n)) {
            return true;
        }
        try {
            Files.writeString(limitFile, Long.toString(target));
        } catch (IOException e) {
            raiseRefused = e.toString();
            return false;
        }
        limit = target;
        LOG.log(System.Logger.Level.WARNING, "pool '" + pool + "': raised " + limitFile + " from " + old + " to "
                + target + ": vmalloc areas are one mapping or more each and the process holds about "
                + (counted + charged) + " of " + old + " (" + reserve(old) + " left to the JVM)");
        return fits(n);
    }

    private long readLimit() {
        return readNumber(limitFile, DEFAULT_LIMIT);
    }

    /**
     * The number in {@code file}, read in one {@code read} call: a sysctl file answers EOF to
     * any read at a non-zero offset, and a reader that asks for one byte first (as
     * {@code Files.readString} does with a file whose size reads 0) gets only the first digit.
     */
    static long readNumber(Path file, long otherwise) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[64];
            int n = in.read(buf);
            return n <= 0 ? otherwise : Long.parseLong(new String(buf, 0, n, StandardCharsets.US_ASCII).strip());
        } catch (IOException | NumberFormatException e) {
            return otherwise;
        }
    }

    /** Lines of {@code /proc/self/maps}: the process's mappings. */
    static long countMaps() {
        try (InputStream in = Files.newInputStream(Path.of("/proc/self/maps"))) {
            byte[] buf = new byte[1 << 16];
            long lines = 0;
            for (int r; (r = in.read(buf)) > 0; ) {
                for (int i = 0; i < r; i++) {
                    if (buf[i] == '\n') {
                        lines++;
                    }
                }
            }
            return lines;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/maps", e);
        }
    }
}
