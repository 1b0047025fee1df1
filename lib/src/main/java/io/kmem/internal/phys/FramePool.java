package io.kmem.internal.phys;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import io.kmem.error.PrivilegeException;
import io.kmem.gfp.FrameKind;
import io.kmem.gfp.ZoneType;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.HostInfo;
import io.kmem.stats.MovedFrame;
import io.kmem.internal.sys.Sys;
import io.kmem.stats.PinState;
import io.kmem.error.SyscallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The physical layer of one pool: pinned frames from memfds, their PFNs, the direct map and
 * mem_map. Every allocator above works on the frames this class holds.
 *
 * <h2>Notation</h2>
 * <ul>
 *   <li><b>frame</b>: 4 KiB of physical memory the pool holds, populated, mlocked and, in a
 *       physical pool, pinned long-term ({@link LongTermPin}) so the kernel cannot migrate it.</li>
 *   <li><b>pfn</b>: its physical frame number, read from {@code /proc/self/pagemap}; in an
 *       unprivileged pool, the frame index stands in for it.</li>
 *   <li><b>idx</b>: its frame index, {@code source.firstIdx + memfd offset / 4 KiB}; the
 *       index into mem_map and into the frame view.</li>
 *   <li><b>run</b>: frames with consecutive idx and consecutive pfn.</li>
 * </ul>
 *
 * <h2>Address space</h2>
 * <pre>
 *  frame view  (one PROT_NONE reservation, every source's memfd mapped at its idx range)
 *  +--------- SMALL_4K idx 0.. ---------+------- HUGE_2M idx ... ---------+
 *  | f0 f1 f2 f3 ...    (memfd order)   | h0 (512 frames) h1 ...          |
 *  +------------------------------------+---------------------------------+
 *          \  each run mapped again, MAP_SHARED|MAP_FIXED, at its pfn:
 *  direct map (one PROT_NONE reservation spanning the host's PFN range [basePfn, limitPfn))
 *  +-----------+----+------------------+--------+-----------------------------------+
 *  | PROT_NONE | f2 f3 |  PROT_NONE    | f0 f1  |  PROT_NONE ...  | h0 ...          |
 *  +-----------+----+------------------+--------+-----------------------------------+
 *  directBase + (pfn - basePfn) * 4 KiB
 * </pre>
 * So {@code virt_to_phys} and {@code phys_to_virt} are arithmetic plus a membership check,
 * and physically contiguous frames are virtually contiguous in the direct map. In an
 * unprivileged pool the frame view is the direct map and pfn equals idx.
 *
 * <h2>Bringing frames in ({@link #grow})</h2>
 * <ol>
 *   <li>Pick memfd ranges: punched holes first, then extend the memfd ({@code ftruncate}).</li>
 *   <li>Map them into the frame view (hugetlb reserves its pages here and fails cleanly when
 *       none are free) and {@code mlock} them: populated and resident. 4 KiB frames are asked
 *       for in 2 MiB shmem folios where the host allows it (see {@link #adviseHugepage}).</li>
 *   <li>Pin them long-term (io_uring buffer registration, see {@link LongTermPin}); the kernel
 *       may migrate them out of ZONE_MOVABLE or CMA while it pins. Where the pin is refused the
 *       pool falls back to mlock only, once, with a warning ({@link #pinFrames}).</li>
 *   <li>Read their PFNs from pagemap in bulk, after the pin; PFN 0 means no CAP_SYS_ADMIN.</li>
 *   <li>A DMA-mask pool holds back frames above its mask and keeps taking, within a bound,
 *       then gives the held-back frames back, after pinning the frames it keeps anew.</li>
 *   <li>Write mem_map records and the PFN index; map each run into the direct map in one
 *       {@code mmap} call.</li>
 * </ol>
 *
 * <h2>Pins</h2>
 * Each intake adds pins ({@code pins}: a {@link LongTermPin.Pin} and the frame-index ranges it
 * covers). A release first replaces every pin that covers a released frame by a pin of the
 * frames it keeps, then drops the old one, so a kept frame is never unpinned; close unpins
 * everything. The kernel does not split a 2 MiB shmem folio while other frames of it are
 * pinned: punching a frame out of such a folio zeroes it, and the memory may come back to the
 * kernel only with the whole folio.
 *
 * <h2>Locking</h2>
 * One lock, {@code growthLock}, serialises growth, release and verify. Translations take no
 * lock: they read the direct-map geometry (final), the PFN index (published safely, see
 * {@link PfnIndex}) and mem_map records.
 */
public final class FramePool implements AutoCloseable {
    private static final Cleaner UNMAPPER = Cleaner.create();

    /** Frames per 1 GiB: idx ranges and pfn bases are aligned to this, so 1 GiB pages fit. */
    private static final long GIGA_FRAMES = 1L << 18;
    private static final long GIGA = 1L << 30;
    /** A DMA-mask pool takes at most this many times the frames it was asked for. */
    static final int MASK_HARVEST_FACTOR = 16;

    /**
     * How to build a pool's physical layer.
     *
     * @param name         shown in reports and in the memfd names (/proc/PID/fd)
     * @param maxBytes     per frame kind, the most the pool may ever hold (virtual reservations)
     * @param dmaMask      highest physical address a frame may end at; -1 for none
     * @param unprivileged frame index as PFN, no physical addresses
     * @param requireLongTermPin  fail instead of falling back to mlock only when the long-term
     *                     pin is unavailable
     * @param pinRefusal   null; or an errno name every long-term pin fails with, as the kernel
     *                     would (tests of the fallback, see {@link LongTermPin})
     */
    public record Config(String name, long[] maxBytes, long dmaMask, boolean unprivileged,
                         boolean requireLongTermPin, String pinRefusal) {
        public Config {
            if (maxBytes.length != FrameKind.values().length) {
                throw new IllegalArgumentException("maxBytes needs one entry per FrameKind");
            }
            maxBytes = maxBytes.clone();
        }

        /** A pool that pins long-term where it can and falls back to mlock only. */
        public Config(String name, long[] maxBytes, long dmaMask, boolean unprivileged) {
            this(name, maxBytes, dmaMask, unprivileged, false, null);
        }
    }

    /**
     * What one {@link #grow} call brought in.
     *
     * @param pfns      the frames taken, sorted by pfn
     * @param runs      direct-map runs mapped (one mmap each)
     * @param nanos     wall time of the whole intake
     * @param heldBack  frames taken and given back because they lay above the DMA mask
     */
    public record Intake(long[] pfns, int runs, long nanos, long heldBack) {
        public long frames() {
            return pfns.length;
        }
    }

    private final String name;
    private final HostInfo host;
    private final boolean physical;
    private final long dmaMask;
    private final Arena arena = Arena.ofShared();
    private final FrameSource[] sources = new FrameSource[FrameKind.values().length];
    private final Pagemap pagemap;
    private final long frameViewBase;
    private final long frameViewBytes;
    private final long directBase;
    private final long basePfn;
    private final long limitPfn;
    private final MemorySegment directMap;
    private final MemorySegment memMapSegment;
    private final MemMap memMap;
    private final PfnIndex pfnIndex;
    private final ReentrantLock growthLock = new ReentrantLock();
    /** Long-term pins of a physical pool; null in an unprivileged pool (nothing to keep in place). */
    private final LongTermPin longTermPin;
    private final boolean requireLongTermPin;
    /** The pins held, each with the frames it covers; see {@link #pinFrames}. */
    private final List<Held> pins = new ArrayList<>();
    /** Null while every frame is pinned long-term; else why frames are only mlocked. */
    private volatile String mlockOnlyReason;
    private volatile long pinnedFrames;
    private volatile int pinRings;
    private final java.util.concurrent.atomic.AtomicBoolean movableWarned = new java.util.concurrent.atomic.AtomicBoolean();

    private final long[] presentByZone = new long[ZoneType.values().length];
    private final long[] presentByKind = new long[FrameKind.values().length];
    private long presentFrames;
    private long directMapRuns;
    private long totalIntakeNanos;
    private long totalIntakeFrames;
    private volatile boolean closed;

    private FramePool(Config config, HostInfo host) {
        this.name = config.name();
        this.host = host;
        this.physical = !config.unprivileged();
        this.dmaMask = config.dmaMask();
        this.requireLongTermPin = config.requireLongTermPin();
        this.longTermPin = physical ? new LongTermPin(config.pinRefusal()) : null;
        if (!physical) {
            this.mlockOnlyReason = "an unprivileged pool has no physical addresses to keep in place";
        }
        if (!physical && requireLongTermPin) {
            throw new IllegalArgumentException("pool '" + name + "': requireLongTermPin needs a physical pool;"
                    + " an unprivileged pool has no physical addresses to pin");
        }
        if (!physical && dmaMask >= 0) {
            throw new IllegalArgumentException("pool '" + name + "': a DMA mask needs physical addresses;"
                    + " an unprivileged pool has none");
        }
        if (physical && !host.capSysAdmin()) {
            throw new PrivilegeException(noPfnMessage(name));
        }
        long totalFrames = 0;
        long[] firstIdx = new long[sources.length];
        for (FrameKind kind : FrameKind.values()) {
            long max = config.maxBytes()[kind.ordinal()];
            if (max < 0 || max % kind.pageSize() != 0) {
                throw new IllegalArgumentException("pool '" + name + "': maximum for " + kind.label()
                        + " frames must be a multiple of " + kind.pageSize() + " bytes, got " + max);
            }
            firstIdx[kind.ordinal()] = totalFrames;
            totalFrames += alignUp(max / PhysLayout.PAGE_SIZE, GIGA_FRAMES);
        }
        if (totalFrames == 0) {
            throw new IllegalArgumentException("pool '" + name + "': no frame source has a maximum above 0");
        }
        if (totalFrames >= Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pool '" + name + "': at most 2^31 frames (8 TiB) per pool");
        }
        List<Runnable> undo = new ArrayList<>();
        undo.add(arena::close);
        try {
            this.frameViewBytes = totalFrames << PhysLayout.PAGE_SHIFT;
            this.frameViewBase = reserve(frameViewBytes, GIGA);
            MemorySegment frameView = segment(frameViewBase, frameViewBytes);
            if (physical) {
                this.basePfn = alignDown(host.minPfn(), GIGA_FRAMES);
                this.limitPfn = alignUp(host.limitPfn(), GIGA_FRAMES);
                long span = (limitPfn - basePfn) << PhysLayout.PAGE_SHIFT;
                this.directBase = reserve(span, GIGA);
                this.directMap = segment(directBase, span);
            } else {
                this.basePfn = 0;
                this.limitPfn = totalFrames;
                this.directBase = frameViewBase;
                this.directMap = frameView;
            }
            long memMapBytes = totalFrames * MemMap.RECORD_BYTES;
            long memMapAddr = Sys.mmap(0, memMapBytes, Libc.PROT_READ() | Libc.PROT_WRITE(),
                    Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_NORESERVE(), -1, 0);
            this.memMapSegment = MemorySegment.ofAddress(memMapAddr).reinterpret(memMapBytes, Arena.ofAuto(),
                    seg -> Sys.munmap(memMapAddr, memMapBytes));
            this.memMap = new MemMap(memMapSegment);
            this.pfnIndex = physical ? new PfnIndex(basePfn, limitPfn) : null;
            this.pagemap = new Pagemap();
            undo.add(pagemap::close);
            for (FrameKind kind : FrameKind.values()) {
                long max = config.maxBytes()[kind.ordinal()];
                if (max > 0) {
                    FrameSource s = new FrameSource(kind, firstIdx[kind.ordinal()],
                            max / PhysLayout.PAGE_SIZE, name);
                    sources[kind.ordinal()] = s;
                    undo.add(s::close);
                }
            }
        } catch (RuntimeException e) {
            for (int i = undo.size() - 1; i >= 0; i--) {
                try {
                    undo.get(i).run();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** Builds an empty pool; {@link #grow} brings frames in. */
    public static FramePool create(Config config) {
        return new FramePool(config, HostInfo.read());
    }

    // ---------------------------------------------------------------- growth and release

    /**
     * Takes {@code frames} more 4 KiB frames of {@code kind} from the kernel (rounded up to
     * whole pages of that kind): populated, mlocked, their PFNs read and the direct map
     * extended. Returns what came in; the caller (the buddy allocator) owns the new frames.
     *
     * @throws KmemException when the source is at its maximum, hugepages are missing, a
     *         system call fails, or PFNs cannot be read; the pool is unchanged then
     */
    public Intake grow(FrameKind kind, long frames) {
        FrameSource src = source(kind, "grow");
        if (frames <= 0) {
            throw new IllegalArgumentException("grow: frames must be positive, got " + frames);
        }
        long wanted = alignUp(frames, kind.framesPerPage());
        growthLock.lock();
        try {
            ensureOpen("grow");
            long start = System.nanoTime();
            long available = src.maxFrames - (src.sizeBytes >>> PhysLayout.PAGE_SHIFT) + src.holeFrames;
            if (wanted > available) {
                throw new KmemException("grow: pool '" + name + "' holds " + framesOf(src) + " " + kind.label()
                        + " frames; " + wanted + " more would pass its maximum of " + src.maxFrames
                        + " (" + (src.maxBytes() >> 20) + " MiB); build the pool with a larger maximum");
            }
            List<long[]> accepted = new ArrayList<>();
            List<long[]> held = new ArrayList<>();
            List<Held> newPins = new ArrayList<>();
            long got = 0;
            long taken = 0;
            long limit = dmaMask >= 0 ? wanted * MASK_HARVEST_FACTOR : wanted;
            try {
                while (got < wanted && taken < limit) {
                    long want = Math.min(wanted - got, limit - taken);
                    long[] range = nextRange(src, want);
                    long[] pfns = populate(src, range[0], range[1], newPins);
                    taken += pfns.length;
                    got += admit(src, range[0], pfns, accepted, held);
                }
                if (!held.isEmpty() && !newPins.isEmpty()) {
                    // Frames above the mask go back: pin what stays first, then drop the
                    // pins that covered everything taken, so no kept frame is ever unpinned.
                    Held kept = got > 0 ? pinFrames(src, stretches(accepted)) : null;
                    unpinAll(newPins);
                    if (kept != null) {
                        newPins.add(kept);
                    }
                }
            } catch (RuntimeException e) {
                unpinAll(newPins);
                for (long[] a : accepted) {
                    unadmit(src, a);
                }
                for (long[] h : held) {
                    discard(src, h[0], h[1]);
                }
                throw e;
            }
            for (long[] h : held) {
                discard(src, h[0], h[1]);
            }
            long heldBack = 0;
            for (long[] h : held) {
                heldBack += h[1];
            }
            if (got < wanted) {
                unpinAll(newPins);
                for (long[] a : accepted) {
                    unadmit(src, a);
                }
                throw new KmemException("grow: pool '" + name + "' for DMA mask 0x" + Long.toHexString(dmaMask)
                        + " found only " + got + " of " + wanted + " frames below the mask after taking " + taken
                        + "; the kernel hands out low memory last (it serves higher zones first), so build a"
                        + " smaller pool or use a wider mask");
            }
            ensureMapCount(accepted);
            int runs = 0;
            long[] pfns = new long[(int) got];
            int n = 0;
            for (long[] a : accepted) {
                runs += mapRuns(src, a);
                for (int i = 1; i < a.length; i += 2) {
                    pfns[n++] = a[i];
                }
            }
            Arrays.sort(pfns);
            pins.addAll(newPins);
            long nanos = System.nanoTime() - start;
            totalIntakeNanos += nanos;
            totalIntakeFrames += got;
            return new Intake(pfns, runs, nanos, heldBack);
        } finally {
            growthLock.unlock();
        }
    }

    /**
     * Gives frames back to the kernel: unmapped from the direct map and the frame view,
     * punched out of the memfd, forgotten by mem_map. The caller has taken them out of
     * every allocator (their records carry no flag but present and hugetlb). Hugetlb frames
     * go back in whole hugepages.
     *
     * @throws BadAddressException for a pfn the pool does not hold, a frame still in use, or
     *         part of a hugepage; nothing is released then
     */
    public void release(long[] pfns) {
        growthLock.lock();
        try {
            ensureOpen("release");
            long[] idxs = new long[pfns.length];
            for (int i = 0; i < pfns.length; i++) {
                long idx = pfnToIdx(pfns[i]);
                if (idx < 0) {
                    throw new BadAddressException("release: pfn 0x" + Long.toHexString(pfns[i])
                            + " is not a frame of pool '" + name + "'");
                }
                long info = memMap.info(idx);
                if ((info & ~(MemMap.PG_PRESENT | MemMap.PG_HUGETLB | MemMap.PFN_MASK
                        | MemMap.ZONE_MASK << MemMap.ZONE_SHIFT)) != 0) {
                    throw new BadAddressException("release: pfn 0x" + Long.toHexString(pfns[i]) + " of pool '" + name
                            + "' is still in use (" + MemMap.flagNames(info) + "); expected a frame no allocator holds");
                }
                idxs[i] = idx;
            }
            Arrays.sort(idxs);
            for (int i = 1; i < idxs.length; i++) {
                if (idxs[i] == idxs[i - 1]) {
                    throw new BadAddressException("release: pfn 0x" + Long.toHexString(MemMap.pfn(memMap.info(idxs[i])))
                            + " given twice");
                }
            }
            int i = 0;
            while (i < idxs.length) {
                FrameSource src = sourceOf(idxs[i]);
                int per = src.kind.framesPerPage();
                int j = i + 1;
                while (j < idxs.length && idxs[j] == idxs[j - 1] + 1 && src.owns(idxs[j])) {
                    j++;
                }
                if ((idxs[i] - src.firstIdx) % per != 0 || (j - i) % per != 0) {
                    throw new BadAddressException("release: " + src.kind.label() + " frames go back in whole pages of "
                            + per + " frames; got a run of " + (j - i) + " starting at frame " + idxs[i]);
                }
                i = j;
            }
            unpinForRelease(idxs);
            i = 0;
            while (i < idxs.length) {
                FrameSource src = sourceOf(idxs[i]);
                int j = i + 1;
                while (j < idxs.length && idxs[j] == idxs[j - 1] + 1 && src.owns(idxs[j])) {
                    j++;
                }
                releaseRange(src, idxs[i], j - i);
                i = j;
            }
        } finally {
            growthLock.unlock();
        }
    }

    private void releaseRange(FrameSource src, long idx, int count) {
        long runStart = idx;
        for (long k = idx; k < idx + count; k++) {
            boolean runEnds = k + 1 == idx + count
                    || MemMap.pfn(memMap.info(k + 1)) != MemMap.pfn(memMap.info(k)) + 1;
            if (runEnds) {
                if (physical) {
                    long pfn0 = MemMap.pfn(memMap.info(runStart));
                    unmapToNone(directAddress(pfn0), (k + 1 - runStart) << PhysLayout.PAGE_SHIFT);
                }
                runStart = k + 1;
            }
        }
        for (long k = idx; k < idx + count; k++) {
            long info = memMap.info(k);
            presentByZone[MemMap.zone(info)]--;
            if (physical) {
                pfnIndex.remove(MemMap.pfn(info));
            }
            memMap.setInfo(k, 0);
            memMap.setPriv(k, 0);
        }
        presentFrames -= count;
        presentByKind[src.kind.ordinal()] -= count;
        discard(src, src.fileOffset(idx), count);
    }

    /** Unmaps a range of the frame view and punches it out of the memfd: it becomes a hole. */
    private void discard(FrameSource src, long offset, long frames) {
        long bytes = frames << PhysLayout.PAGE_SHIFT;
        long idx = src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT);
        for (long k = idx; k < idx + frames; k++) {
            memMap.setInfo(k, 0);
        }
        unmapToNone(frameViewBase + (src.firstIdx << PhysLayout.PAGE_SHIFT) + offset, bytes);
        src.punch(offset, bytes);
        src.holeFrames += frames;
        if (!src.kind.hugetlb()) {
            repinFolioNeighbours(src, offset, bytes);
        }
    }

    /**
     * Punching part of a 2 MiB shmem folio makes the kernel split it, and a split unmaps the
     * whole folio from every mapping: the frames the pool keeps from that folio lose their
     * frame-view and direct-map entries and their mlock (the pages stay in the memfd, at the
     * same PFNs). This maps, populates and locks them again ({@code mlock} faults the frame
     * view back in; the direct map is mapped again with {@code MAP_POPULATE}) and checks with
     * pagemap that every frame kept its PFN.
     *
     * @throws KmemException if a kept frame came back at another PFN (never seen; it would
     *         mean the kernel migrated it during the split)
     */
    private void repinFolioNeighbours(FrameSource src, long offset, long bytes) {
        long folio = FrameKind.HUGE_2M.pageSize();
        long lo = alignDown(offset, folio);
        long hi = Math.min(alignUp(offset + bytes, folio), src.sizeBytes);
        long o = lo;
        while (o < hi) {
            long start = o;
            while (o < hi && (o < offset || o >= offset + bytes) && keeps(src, o)) {
                o += PhysLayout.PAGE_SIZE;
            }
            if (o > start) {
                relock(src, start, o - start);
            } else {
                o += PhysLayout.PAGE_SIZE;
            }
        }
    }

    private boolean keeps(FrameSource src, long offset) {
        return (memMap.info(src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT)) & MemMap.PG_PRESENT) != 0;
    }

    private void relock(FrameSource src, long offset, long bytes) {
        long idx0 = src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT);
        int frames = (int) (bytes >>> PhysLayout.PAGE_SHIFT);
        Sys.mlock(frameViewAddress(idx0), bytes);
        if (!physical) {
            return;
        }
        long[] entries = new long[frames];
        pagemap.read(frameViewAddress(idx0), frames, entries, 0);
        int runStart = 0;
        for (int i = 0; i < frames; i++) {
            long recorded = MemMap.pfn(memMap.info(idx0 + i));
            if (!Pagemap.present(entries[i]) || Pagemap.pfn(entries[i]) != recorded) {
                throw new KmemException("release: pool '" + name + "': frame " + (idx0 + i) + " (pfn 0x"
                        + Long.toHexString(recorded) + ") came back at pagemap entry 0x" + Long.toHexString(entries[i])
                        + " after its 2 MiB folio was split; its physical address is no longer reliable");
            }
            boolean runEnds = i + 1 == frames || MemMap.pfn(memMap.info(idx0 + i + 1)) != recorded + 1;
            if (runEnds) {
                long pfn0 = MemMap.pfn(memMap.info(idx0 + runStart));
                Sys.mmap(directAddress(pfn0), (long) (i + 1 - runStart) << PhysLayout.PAGE_SHIFT,
                        Libc.PROT_READ() | Libc.PROT_WRITE(), Libc.MAP_SHARED() | Libc.MAP_FIXED() | Libc.MAP_POPULATE(),
                        src.fd, offset + ((long) runStart << PhysLayout.PAGE_SHIFT));
                runStart = i + 1;
            }
        }
    }

    /** Picks the next memfd range to fill: {offset, frames}, holes first. */
    private long[] nextRange(FrameSource src, long frames) {
        int per = src.kind.framesPerPage();
        if (src.holeFrames > 0) {
            long end = src.sizeBytes >>> PhysLayout.PAGE_SHIFT;
            for (long f = 0; f < end; f += per) {
                if (memMap.info(src.firstIdx + f) == 0) {
                    long g = f;
                    while (g < end && g - f < frames && memMap.info(src.firstIdx + g) == 0) {
                        g += per;
                    }
                    src.holeFrames -= g - f;
                    return new long[] {f << PhysLayout.PAGE_SHIFT, g - f};
                }
            }
            src.holeFrames = 0;
        }
        long offset = src.sizeBytes;
        src.extendTo(offset + (frames << PhysLayout.PAGE_SHIFT));
        return new long[] {offset, frames};
    }

    /**
     * Maps a memfd range into the frame view, pins it and reads its PFNs. One {@code mlock}
     * allocates, zeroes and locks the pages, most of bring-up. It runs on one thread on
     * purpose: two threads faulting at once interleave the kernel's per-cpu page batches
     * and cut the pool's physically contiguous runs to a third (measured on 1 GiB).
     */
    private long[] populate(FrameSource src, long offset, long frames, List<Held> newPins) {
        long bytes = frames << PhysLayout.PAGE_SHIFT;
        long view = frameViewBase + (src.firstIdx << PhysLayout.PAGE_SHIFT) + offset;
        try {
            Sys.mmap(view, bytes, Libc.PROT_READ() | Libc.PROT_WRITE(), Libc.MAP_SHARED() | Libc.MAP_FIXED(),
                    src.fd, offset);
        } catch (SyscallException e) {
            src.holeFrames += frames;
            if (src.kind.hugetlb()) {
                throw new PrivilegeException("grow: pool '" + name + "' could not get " + frames / src.kind.framesPerPage()
                        + " " + src.kind.label() + " pages (" + e.errnoName() + "); free now: "
                        + HostInfo.read().freeHugepages(src.kind.pageSize()) + "; reserve more with: echo N > "
                        + (src.kind == FrameKind.HUGE_2M ? HostInfo.HUGE_2M : HostInfo.HUGE_1G) + "nr_hugepages");
            }
            throw e;
        }
        try {
            if (!src.kind.hugetlb()) {
                adviseHugepage(view, bytes, Libc.MADV_HUGEPAGE());
            }
            Sys.mlock(view, bytes);
            if (!src.kind.hugetlb()) {
                adviseHugepage(view, bytes, Libc.MADV_NOHUGEPAGE());
            }
            Held pin = pinFrames(src, new long[] {src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT), frames});
            if (pin != null) {
                newPins.add(pin);
            }
        } catch (RuntimeException e) {
            discard(src, offset, frames);
            throw e;
        }
        long[] entries = new long[(int) frames];
        try {
            readPfns(src, offset, frames, view, entries);
        } catch (RuntimeException e) {
            if (!newPins.isEmpty() && newPins.getLast().covers(src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT))) {
                unpin(newPins.removeLast());
            }
            discard(src, offset, frames);
            throw e;
        }
        return entries;
    }

    /**
     * Reads the PFNs of a populated, pinned range into {@code entries} (the frame index in an
     * unprivileged pool). Throws if a frame is missing or its PFN unusable; the caller drops
     * the range.
     */
    private void readPfns(FrameSource src, long offset, long frames, long view, long[] entries) {
        pagemap.read(view, (int) frames, entries, 0);
        for (int i = 0; i < entries.length; i++) {
            long e = entries[i];
            if (!Pagemap.present(e)) {
                throw new KmemException("grow: frame at memfd offset 0x" + Long.toHexString(offset + ((long) i << 12))
                        + " is not present after mlock; pagemap entry 0x" + Long.toHexString(e));
            }
            if (physical) {
                long pfn = Pagemap.pfn(e);
                if (pfn == 0) {
                    throw new PrivilegeException(noPfnMessage(name));
                }
                if (pfn < basePfn || pfn >= limitPfn) {
                    throw new KmemException("grow: pfn 0x" + Long.toHexString(pfn) + " lies outside the host's zones"
                            + " [0x" + Long.toHexString(basePfn) + ", 0x" + Long.toHexString(limitPfn)
                            + ") read from " + HostInfo.ZONEINFO + " (memory hot-added since the pool was built?)");
                }
                entries[i] = pfn;
            } else {
                entries[i] = src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT) + i;
            }
        }
    }

    /**
     * Transparent hugepages for the 4 KiB source. Before the pages are faulted,
     * {@code MADV_HUGEPAGE} lets shmem (with {@code shmem_enabled=advise}) back them with
     * 2 MiB folios: the frames stay 4 KiB frames in mem_map, but come physically contiguous
     * in runs of 512, so the direct map needs a few hundred mappings per GiB instead of tens
     * of thousands, and zeroing is far cheaper. After they are locked, {@code MADV_NOHUGEPAGE}
     * takes the frame view out of khugepaged's reach (a collapse copies frames to new PFNs).
     * The direct-map mappings carry no advice: with {@code shmem_enabled=advise} they are not
     * eligible for collapse; with {@code always} they are, and {@link #verify} reports any frame
     * that moved. Without THP in the kernel the call fails with EINVAL and changes nothing.
     */
    private static void adviseHugepage(long addr, long bytes, int advice) {
        try {
            Sys.madvise(addr, bytes, advice);
        } catch (SyscallException e) {
            if (e.errno() != Libc.EINVAL()) {
                throw e;
            }
        }
    }

    /**
     * Records the frames of a populated range that the pool may keep. Returns how many it
     * kept; each stretch of kept frames with consecutive idx is added to {@code accepted} as
     * one {idx, pfn, idx, pfn, ...} array, each page a DMA mask refuses to {@code held} as
     * {offset, frames} (marked PG_RESERVED until it is given back).
     */
    private long admit(FrameSource src, long offset, long[] pfns, List<long[]> accepted, List<long[]> held) {
        int per = src.kind.framesPerPage();
        long firstIdx = src.firstIdx + (offset >>> PhysLayout.PAGE_SHIFT);
        long extra = src.kind.hugetlb() ? MemMap.PG_HUGETLB : 0;
        long[] stretch = new long[2 * pfns.length];
        int n = 0;
        long kept = 0;
        for (int p = 0; p < pfns.length; p += per) {
            boolean ok = true;
            for (int i = p; i < p + per && dmaMask >= 0; i++) {
                ok &= ((pfns[i] + 1) << PhysLayout.PAGE_SHIFT) - 1 <= dmaMask;
            }
            if (!ok) {
                held.add(new long[] {offset + ((long) p << PhysLayout.PAGE_SHIFT), per});
                for (int i = 0; i < per; i++) {
                    memMap.setInfo(firstIdx + p + i, MemMap.PG_RESERVED);
                }
                if (n > 0) {
                    accepted.add(Arrays.copyOf(stretch, n));
                    n = 0;
                }
                continue;
            }
            for (int i = p; i < p + per; i++) {
                long idx = firstIdx + i;
                long pfn = pfns[i];
                ZoneType zone = physical ? ZoneType.of(pfn) : ZoneType.NORMAL;
                memMap.setPriv(idx, 0);
                memMap.setInfo(idx, MemMap.newInfo(pfn, zone, extra));
                if (physical) {
                    pfnIndex.insert(pfn, idx);
                }
                presentByZone[zone.ordinal()]++;
                stretch[n++] = idx;
                stretch[n++] = pfn;
            }
            kept += per;
        }
        if (n > 0) {
            accepted.add(Arrays.copyOf(stretch, n));
        }
        presentFrames += kept;
        presentByKind[src.kind.ordinal()] += kept;
        return kept;
    }

    /** Undoes {@link #admit} for one accepted stretch (on a failed grow). */
    private void unadmit(FrameSource src, long[] run) {
        for (int i = 0; i < run.length; i += 2) {
            long idx = run[i];
            long info = memMap.info(idx);
            presentByZone[MemMap.zone(info)]--;
            if (physical) {
                pfnIndex.remove(run[i + 1]);
            }
            memMap.setInfo(idx, 0);
        }
        presentFrames -= run.length / 2;
        presentByKind[src.kind.ordinal()] -= run.length / 2;
        discard(src, src.fileOffset(run[0]), run.length / 2);
    }

    /**
     * Each direct-map run is one mapping (VMA), and a scattered pool can need more than the
     * default {@code vm.max_map_count} of 65530. Counts the mappings this intake adds; as root,
     * raises the limit (and says so), otherwise refuses with the fix.
     */
    private void ensureMapCount(List<long[]> accepted) {
        if (!physical) {
            return;
        }
        long runs = 0;
        for (long[] a : accepted) {
            for (int i = 2; i < a.length; i += 2) {
                if (a[i + 1] != a[i - 1] + 1) {
                    runs++;
                }
            }
            runs++;
        }
        long limit = HostInfo.read().maxMapCount();
        long needed = baselineMaps + 2 * (directMapRuns + runs) + 1024;
        if (needed <= limit) {
            return;
        }
        long raised = needed * 2;
        try {
            java.nio.file.Files.writeString(java.nio.file.Path.of(MAX_MAP_COUNT), Long.toString(raised));
        } catch (java.io.IOException e) {
            throw new KmemException("grow: pool '" + name + "' needs about " + needed + " mappings (" + runs
                    + " direct-map runs: the host's free memory is scattered) but vm.max_map_count is " + limit
                    + " and cannot be raised (" + e.getMessage() + "); run as root or: sysctl vm.max_map_count="
                    + raised);
        }
        System.getLogger("io.kmem").log(System.Logger.Level.WARNING, "pool '" + name + "': raised "
                + MAX_MAP_COUNT + " from " + limit + " to " + raised + ": the direct map needs one mapping per run"
                + " of consecutive PFNs and this intake has " + runs);
    }

    /** Mappings the process had when the pool was built (read once; the pool adds its own). */
    private final long baselineMaps = mapCount();

    private static long mapCount() {
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/self/maps"))) {
            return lines.count();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read /proc/self/maps", e);
        }
    }

    private static final String MAX_MAP_COUNT = "/proc/sys/vm/max_map_count";

    /** Maps the runs of one accepted stretch into the direct map; returns how many mmaps. */
    private int mapRuns(FrameSource src, long[] run) {
        if (!physical) {
            return 0;
        }
        int maps = 0;
        int start = 0;
        int frames = run.length / 2;
        for (int i = 1; i <= frames; i++) {
            boolean ends = i == frames || run[2 * i] != run[2 * i - 2] + 1 || run[2 * i + 1] != run[2 * i - 1] + 1;
            if (ends) {
                long pfn0 = run[2 * start + 1];
                long len = (long) (i - start) << PhysLayout.PAGE_SHIFT;
                Sys.mmap(directAddress(pfn0), len, Libc.PROT_READ() | Libc.PROT_WRITE(),
                        Libc.MAP_SHARED() | Libc.MAP_FIXED() | Libc.MAP_POPULATE(), src.fd, src.fileOffset(run[2 * start]));
                maps++;
                start = i;
            }
        }
        directMapRuns += maps;
        return maps;
    }

    // ---------------------------------------------------------------- long-term pins

    /** One long-term pin and the frames it covers: {first idx, frames, ...}, all of one source. */
    private record Held(LongTermPin.Pin pin, long[] idxRanges) {
        boolean covers(long idx) {
            for (int i = 0; i < idxRanges.length; i += 2) {
                if (idx >= idxRanges[i] && idx < idxRanges[i] + idxRanges[i + 1]) {
                    return true;
                }
            }
            return false;
        }

        long frames() {
            long n = 0;
            for (int i = 1; i < idxRanges.length; i += 2) {
                n += idxRanges[i];
            }
            return n;
        }
    }

    /**
     * Pins frames long-term through their frame-view mappings (see {@link LongTermPin}).
     * Returns null when the pool is mlock only: unprivileged, or the kernel refused an earlier
     * or this pin; the first refusal is logged once as a warning with its reason and fix, and
     * the pool stays mlock only.
     *
     * @throws KmemException when the kernel refuses and the pool requires the long-term pin
     */
    private Held pinFrames(FrameSource src, long[] idxRanges) {
        if (longTermPin == null || mlockOnlyReason != null) {
            return null;
        }
        long[] ranges = new long[idxRanges.length];
        for (int i = 0; i < idxRanges.length; i += 2) {
            ranges[i] = frameViewAddress(idxRanges[i]);
            ranges[i + 1] = idxRanges[i + 1] << PhysLayout.PAGE_SHIFT;
        }
        try {
            LongTermPin.Pin pin = longTermPin.pin(ranges);
            Held held = new Held(pin, idxRanges);
            pinnedFrames += held.frames();
            pinRings += pin.rings();
            return held;
        } catch (SyscallException e) {
            String reason = LongTermPin.refusal(e, src.kind.hugetlb());
            if (requireLongTermPin) {
                throw new KmemException("grow: pool '" + name + "' requires a long-term pin (requireLongTermPin) and"
                        + " cannot have one: " + reason, e);
            }
            mlockOnlyReason = reason;
            System.getLogger("io.kmem").log(System.Logger.Level.WARNING, "pool '" + name + "': frames are mlocked"
                    + " only, not pinned long-term: " + reason + ". The kernel may still migrate them (compaction,"
                    + " NUMA balancing, memory offlining, move_pages), and a device would then DMA to memory that"
                    + " is no longer the pool's; verify() sees it only afterwards. Build the pool with"
                    + " requireLongTermPin() to make this an error");
            return null;
        }
    }

    private void unpin(Held held) {
        longTermPin.unpin(held.pin());
        pinnedFrames -= held.frames();
        pinRings -= held.pin().rings();
    }

    private void unpinAll(List<Held> held) {
        RuntimeException first = null;
        for (Held h : held) {
            try {
                unpin(h);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        held.clear();
        if (first != null) {
            throw first;
        }
    }

    /** {first idx, frames, ...} of accepted stretches ({idx, pfn, ...} with consecutive idx). */
    private static long[] stretches(List<long[]> accepted) {
        long[] out = new long[2 * accepted.size()];
        for (int i = 0; i < accepted.size(); i++) {
            out[2 * i] = accepted.get(i)[0];
            out[2 * i + 1] = accepted.get(i).length / 2;
        }
        return out;
    }

    /**
     * Before frames go back to the kernel: every pin that covers one of {@code idxs} (sorted)
     * is replaced by a pin of the frames it keeps, taken before the old one is dropped, so
     * that no kept frame is unpinned even for a moment.
     */
    private void unpinForRelease(long[] idxs) {
        for (int k = 0; k < pins.size(); k++) {
            Held h = pins.get(k);
            long[] rest = subtract(h.idxRanges(), idxs);
            if (rest == h.idxRanges()) {
                continue;
            }
            Held replacement = rest.length == 0 ? null : pinFrames(sourceOf(rest[0]), rest);
            unpin(h);
            if (replacement != null) {
                pins.set(k, replacement);
            } else {
                pins.remove(k--);
            }
        }
    }

    /** {@code ranges} ({first, count, ...}) without the sorted {@code idxs}; the same array if none falls in. */
    private static long[] subtract(long[] ranges, long[] idxs) {
        long[] out = null;
        int n = 0;
        for (int r = 0; r < ranges.length; r += 2) {
            long lo = ranges[r];
            long hi = lo + ranges[r + 1];
            int i = lowerBound(idxs, lo);
            if (out == null && (i == idxs.length || idxs[i] >= hi)) {
                continue;
            }
            if (out == null) {
                out = new long[ranges.length + 2 * idxs.length];
                System.arraycopy(ranges, 0, out, 0, r);
                n = r;
            }
            long from = lo;
            for (; i < idxs.length && idxs[i] < hi; i++) {
                if (idxs[i] > from) {
                    out[n++] = from;
                    out[n++] = idxs[i] - from;
                }
                from = idxs[i] + 1;
            }
            if (from < hi) {
                out[n++] = from;
                out[n++] = hi - from;
            }
        }
        return out == null ? ranges : Arrays.copyOf(out, n);
    }

    private static int lowerBound(long[] sorted, long key) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** How the pool's frames are held in place now. */
    public PinState pinState() {
        return new PinState(mlockOnlyReason == null, mlockOnlyReason, pinnedFrames << PhysLayout.PAGE_SHIFT, pinRings);
    }

    /**
     * Warns once per pool, naming {@code function}, when a physical pool's frames are
     * mlocked only: the addresses a device is given can move. For the DMA API and
     * {@code pci_set_master}.
     */
    public void warnIfMovable(String function) {
        String reason = mlockOnlyReason;
        if (physical && reason != null && movableWarned.compareAndSet(false, true)) {
            System.getLogger("io.kmem").log(System.Logger.Level.WARNING, function + ": pool '" + name
                    + "' is mlock only (" + reason + "): the physical addresses a device is given can change under"
                    + " it when the kernel migrates a frame");
        }
    }

    // ---------------------------------------------------------------- other mappings of frames

    /**
     * Reserves {@code bytes} of {@code PROT_NONE} address space aligned to {@code align} (a
     * power of two of at least a page) for mappings of the pool's frames outside the direct
     * map, such as the vmalloc window. Closing the pool makes the window inert, as it does the
     * direct map (see {@link #segment}): the frames' mappings go back to the kernel with the
     * rest of the pool.
     */
    public long reserveWindow(long bytes, long align) {
        if (bytes <= 0 || (bytes & PhysLayout.PAGE_SIZE - 1) != 0 || Long.bitCount(align) != 1
                || align < PhysLayout.PAGE_SIZE) {
            throw new IllegalArgumentException("reserveWindow: " + bytes + " bytes aligned to " + align
                    + ": expected a positive multiple of the page size and a power-of-two alignment");
        }
        growthLock.lock();
        try {
            ensureOpen("reserveWindow");
            long base = reserve(bytes, align);
            segment(base, bytes);
            return base;
        } finally {
            growthLock.unlock();
        }
    }

    /**
     * Maps the frames {@code idx .. idx + frames - 1} at {@code vaddr} ({@code MAP_SHARED |
     * MAP_FIXED | MAP_POPULATE} of their memfd range): the same physical pages, seen a second
     * time. They must be consecutive in one memfd ({@link #memfdNext}); hugetlb frames only in
     * whole pages of their kind, at an address aligned to that page size.
     */
    public void mapFrames(long vaddr, long idx, long frames) {
        FrameSource src = sourceOf(idx);
        if (!src.owns(idx + frames - 1)) {
            throw new IllegalArgumentException("mapFrames: frames " + idx + ".." + (idx + frames - 1)
                    + " span two memfds");
        }
        Sys.mmap(vaddr, frames << PhysLayout.PAGE_SHIFT, Libc.PROT_READ() | Libc.PROT_WRITE(),
                Libc.MAP_SHARED() | Libc.MAP_FIXED() | Libc.MAP_POPULATE(), src.fd, src.fileOffset(idx));
    }

    /**
     * Makes {@code vaddr}, the page right after a {@link #mapFrames} mapping that ends with
     * frame {@code idx}, a guard page inside that mapping: maps the memfd's next page there,
     * unpopulated, so that the mapping (VMA) just grows by a page, and installs a guard region
     * on it ({@code MADV_GUARD_INSTALL}): an access faults as on an unmapped page, and the
     * guard costs no mapping of its own. Whatever frame that memfd page is, it is never
     * touched through the guard. Returns false, the page left {@code PROT_NONE} (then its own
     * mapping, unless it touches a free part of the window), when {@code idx} is a hugetlb
     * frame (a hugepage mapping has no 4 KiB pages to guard) or the kernel has no guard
     * regions on shmem (before Linux 6.15; asked once).
     */
    public boolean mapGuard(long vaddr, long idx) {
        FrameSource src = sourceOf(idx);
        if (!guardRegions || src.kind.hugetlb()) {
            return false;
        }
        Sys.mmap(vaddr, PhysLayout.PAGE_SIZE, Libc.PROT_READ() | Libc.PROT_WRITE(),
                Libc.MAP_SHARED() | Libc.MAP_FIXED(), src.fd, src.fileOffset(idx) + PhysLayout.PAGE_SIZE);
        try {
            Sys.madvise(vaddr, PhysLayout.PAGE_SIZE, Sys.MADV_GUARD_INSTALL);
            return true;
        } catch (SyscallException e) {
            unmapToNone(vaddr, PhysLayout.PAGE_SIZE);
            if (e.errno() != Libc.EINVAL()) {
                throw e;
            }
            guardRegions = false;
            return false;
        }
    }

    /** False once the kernel refused a guard region ({@link #mapGuard}): guards are mappings then. */
    private static volatile boolean guardRegions = true;

    /** True when frame {@code next} is the frame right after {@code idx} in the same memfd. */
    public boolean memfdNext(long idx, long next) {
        return next == idx + 1 && sourceOf(idx).owns(next);
    }

    /** The source kind of frame {@code idx}. */
    public FrameKind kindOf(long idx) {
        return sourceOf(idx).kind;
    }

    /**
     * Takes a range of a window from {@link #reserveWindow} back to {@code PROT_NONE}: whatever
     * was mapped there is gone, the range stays reserved.
     */
    public void unmapWindow(long vaddr, long bytes) {
        unmapToNone(vaddr, bytes);
    }

    // ---------------------------------------------------------------- translations

    /** {@code virt_to_phys}: the physical address behind a direct-map address. */
    public long virtToPhys(long addr) {
        requirePhysical("virt_to_phys", addr);
        return (pfnOfDirect("virt_to_phys", addr) << PhysLayout.PAGE_SHIFT) | (addr & (PhysLayout.PAGE_SIZE - 1));
    }

    /** {@code phys_to_virt}: the direct-map address of a physical address the pool holds. */
    public long physToVirt(long phys) {
        if (!physical) {
            throw new PrivilegeException("phys_to_virt: pool '" + name + "' is unprivileged and has no physical"
                    + " addresses");
        }
        long pfn = phys >>> PhysLayout.PAGE_SHIFT;
        if (phys < 0 || pfnToIdx(pfn) < 0) {
            throw new BadAddressException("phys_to_virt: physical address 0x" + Long.toHexString(phys)
                    + " (pfn 0x" + Long.toHexString(pfn) + ") is not a frame of pool '" + name + "'");
        }
        return directAddress(pfn) | (phys & (PhysLayout.PAGE_SIZE - 1));
    }

    /** PFN of the frame holding a direct-map address (the pool's frame index in an unprivileged pool). */
    public long virtToPfn(String function, long addr) {
        return pfnOfDirect(function, addr);
    }

    /** Frame index of {@code pfn}, or -1 when the pool does not hold it. */
    public long pfnToIdx(long pfn) {
        if (physical) {
            return pfnIndex.find(pfn);
        }
        return pfn >= 0 && pfn < limitPfn && (memMap.info(pfn) & MemMap.PG_PRESENT) != 0 ? pfn : -1;
    }

    /** Direct-map address of a frame by PFN; no check. */
    public long directAddress(long pfn) {
        return directBase + ((pfn - basePfn) << PhysLayout.PAGE_SHIFT);
    }

    /** Address of a frame in its memfd's own mapping (the frame view). */
    public long frameViewAddress(long idx) {
        return frameViewBase + (idx << PhysLayout.PAGE_SHIFT);
    }

    /**
     * The PFN {@code addr} stands for in the direct map, or -1 outside the direct map's
     * reservation. Whether the pool holds that frame is not checked.
     */
    public long directPfn(long addr) {
        long off = addr - directBase;
        return off >= 0 && off < (limitPfn - basePfn) << PhysLayout.PAGE_SHIFT
                ? basePfn + (off >>> PhysLayout.PAGE_SHIFT) : -1;
    }

    /** True when {@code addr} lies in the direct map's reservation (frame or hole). */
    public boolean inDirectMap(long addr) {
        return addr - directBase >= 0 && addr - directBase < (limitPfn - basePfn) << PhysLayout.PAGE_SHIFT;
    }

    private long pfnOfDirect(String function, long addr) {
        if (!inDirectMap(addr)) {
            throw new BadAddressException(function + ": address 0x" + Long.toHexString(addr)
                    + " is not in the direct map of pool '" + name + "' [0x" + Long.toHexString(directBase) + ", 0x"
                    + Long.toHexString(directBase + ((limitPfn - basePfn) << PhysLayout.PAGE_SHIFT)) + ")");
        }
        long pfn = basePfn + ((addr - directBase) >>> PhysLayout.PAGE_SHIFT);
        if (pfnToIdx(pfn) < 0) {
            throw new BadAddressException(function + ": address 0x" + Long.toHexString(addr) + " is in the direct map"
                    + " of pool '" + name + "' but pfn 0x" + Long.toHexString(pfn) + " is not one of its frames");
        }
        return pfn;
    }

    private void requirePhysical(String function, long addr) {
        if (!physical) {
            throw new PrivilegeException(function + "(0x" + Long.toHexString(addr) + "): pool '" + name
                    + "' is unprivileged and has no physical addresses; build it as root for real PFNs");
        }
    }

    // ---------------------------------------------------------------- verify

    /**
     * Re-reads pagemap for every frame the pool holds and reports each frame whose PFN is no
     * longer the recorded one (the kernel migrated it) or that is no longer present.
     */
    public FrameVerification verify() {
        growthLock.lock();
        try {
            ensureOpen("verify");
            long start = System.nanoTime();
            List<MovedFrame> moved = new ArrayList<>();
            long checked = 0;
            for (FrameSource src : sources) {
                if (src == null || src.sizeBytes == 0) {
                    continue;
                }
                int frames = (int) (src.sizeBytes >>> PhysLayout.PAGE_SHIFT);
                long[] entries = new long[frames];
                pagemap.read(frameViewAddress(src.firstIdx), frames, entries, 0);
                for (int i = 0; i < frames; i++) {
                    long idx = src.firstIdx + i;
                    long info = memMap.info(idx);
                    if ((info & MemMap.PG_PRESENT) == 0) {
                        continue;
                    }
                    checked++;
                    long now = Pagemap.present(entries[i]) ? Pagemap.pfn(entries[i]) : -1;
                    long expect = MemMap.pfn(info);
                    if (physical ? now != expect : now < 0) {
                        moved.add(new MovedFrame(idx, expect, now));
                    }
                }
            }
            return new FrameVerification(checked, List.copyOf(moved), System.nanoTime() - start);
        } finally {
            growthLock.unlock();
        }
    }

    /** The raw pagemap entry of any mapped virtual address of this process (for checks and tests). */
    public long pagemapEntry(long vaddr) {
        return pagemap.entry(vaddr);
    }

    /** The PFN pagemap reports for a virtual address now, or -1 when the page is not present. */
    public long pagemapPfn(long vaddr) {
        long e = pagemap.entry(vaddr);
        return Pagemap.present(e) ? Pagemap.pfn(e) : -1;
    }

    // ---------------------------------------------------------------- facts for reports

    public String name() {
        return name;
    }

    public HostInfo host() {
        return host;
    }

    public boolean physical() {
        return physical;
    }

    public long dmaMask() {
        return dmaMask;
    }

    public MemMap memMap() {
        return memMap;
    }

    public MemorySegment directMap() {
        return directMap;
    }

    public long directBase() {
        return directBase;
    }

    public long basePfn() {
        return basePfn;
    }

    public long limitPfn() {
        return limitPfn;
    }

    public long presentFrames() {
        return presentFrames;
    }

    public long presentFrames(ZoneType zone) {
        return presentByZone[zone.ordinal()];
    }

    public long presentFrames(FrameKind kind) {
        return presentByKind[kind.ordinal()];
    }

    public boolean hasSource(FrameKind kind) {
        return sources[kind.ordinal()] != null;
    }

    public long maxFrames(FrameKind kind) {
        FrameSource s = sources[kind.ordinal()];
        return s == null ? 0 : s.maxFrames;
    }

    /** Seals on the memfd behind {@code kind} ({@code F_SEAL_*} bits). */
    public int seals(FrameKind kind) {
        return source(kind, "seals").seals();
    }

    /** The memfd behind {@code kind} (for tests that check it is sealed). */
    public int memfd(FrameKind kind) {
        return source(kind, "memfd").fd;
    }

    /** Frame index range {first, max} owned by {@code kind}'s source. */
    public long firstIdx(FrameKind kind) {
        return source(kind, "firstIdx").firstIdx;
    }

    public long memfdOffset(long idx) {
        return sourceOf(idx).fileOffset(idx);
    }

    public long directMapRuns() {
        return directMapRuns;
    }

    /** Frames per second over every intake so far (pagemap read and direct map included). */
    public double intakeFramesPerSecond() {
        return totalIntakeNanos == 0 ? 0 : totalIntakeFrames * 1e9 / totalIntakeNanos;
    }

    /**
     * Histogram of physically contiguous run lengths among present frames: entry k counts
     * the maximal runs of consecutive PFNs whose length lies in [2^k, 2^(k+1)).
     */
    public long[] contiguityHistogram() {
        growthLock.lock();
        try {
            long[] pfns = presentPfns();
            long[] hist = new long[64];
            int i = 0;
            while (i < pfns.length) {
                int j = i + 1;
                while (j < pfns.length && pfns[j] == pfns[j - 1] + 1) {
                    j++;
                }
                hist[63 - Long.numberOfLeadingZeros(j - i)]++;
                i = j;
            }
            return hist;
        } finally {
            growthLock.unlock();
        }
    }

    /** Every present frame's PFN, sorted. */
    public long[] presentPfns() {
        growthLock.lock();
        try {
            long[] out = new long[(int) presentFrames];
            int n = 0;
            for (FrameSource src : sources) {
                if (src == null) {
                    continue;
                }
                long end = src.firstIdx + (src.sizeBytes >>> PhysLayout.PAGE_SHIFT);
                for (long idx = src.firstIdx; idx < end; idx++) {
                    long info = memMap.info(idx);
                    if ((info & MemMap.PG_PRESENT) != 0) {
                        out[n++] = MemMap.pfn(info);
                    }
                }
            }
            Arrays.sort(out, 0, n);
            return n == out.length ? out : Arrays.copyOf(out, n);
        } finally {
            growthLock.unlock();
        }
    }

    /**
     * Metadata bytes the pool spends now: resident pages of mem_map (measured with
     * {@code mincore}) and the PFN index.
     *
     * @return {mem_map resident bytes, pfn index bytes}
     */
    public long[] metadataBytes() {
        long resident = 0;
        for (FrameSource src : sources) {
            if (src == null || src.sizeBytes == 0) {
                continue;
            }
            long from = alignDown(memMapSegment.address() + src.firstIdx * MemMap.RECORD_BYTES, PhysLayout.PAGE_SIZE);
            long to = alignUp(memMapSegment.address() + (src.firstIdx + (src.sizeBytes >>> PhysLayout.PAGE_SHIFT))
                    * MemMap.RECORD_BYTES, PhysLayout.PAGE_SIZE);
            resident += Sys.residentPages(from, to - from) * PhysLayout.PAGE_SIZE;
        }
        return new long[] {resident, physical ? pfnIndex.bytes() : 0};
    }

    // ---------------------------------------------------------------- lifecycle

    public boolean closed() {
        return closed;
    }

    /** Throws {@link PoolClosedException} naming {@code function} if the pool is closed. */
    public void ensureOpen(String function) {
        if (closed) {
            throw new PoolClosedException(function + ": pool '" + name + "' is closed");
        }
    }

    /**
     * Unmaps the frame view and the direct map and closes the memfds: every frame goes back
     * to the kernel. Segments handed out from this pool become inaccessible (an access
     * throws, it does not crash). mem_map stays mapped until this object is unreachable (see
     * {@link MemMap}).
     */
    @Override
    public void close() {
        growthLock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (longTermPin != null) {
                try {
                    unpinAll(pins);
                } catch (RuntimeException e) {
                    System.getLogger("io.kmem").log(System.Logger.Level.WARNING, "close: pool '" + name + "': unpinning"
                            + " failed; the pins go when the rings' descriptors close: " + e.getMessage());
                }
            }
            arena.close();
            pagemap.close();
            for (FrameSource s : sources) {
                if (s != null) {
                    s.close();
                }
            }
        } finally {
            growthLock.unlock();
        }
    }

    // ---------------------------------------------------------------- helpers

    private FrameSource source(FrameKind kind, String function) {
        FrameSource s = sources[kind.ordinal()];
        if (s == null) {
            throw new IllegalArgumentException(function + ": pool '" + name + "' has no " + kind.label()
                    + " frame source (its maximum is 0)");
        }
        return s;
    }

    private FrameSource sourceOf(long idx) {
        for (FrameSource s : sources) {
            if (s != null && s.owns(idx)) {
                return s;
            }
        }
        throw new IllegalStateException("frame index " + idx + " belongs to no source");
    }

    private long framesOf(FrameSource src) {
        return presentByKind[src.kind.ordinal()];
    }

    /** Reserves {@code bytes} of PROT_NONE address space aligned to {@code align} (a power of two). */
    private static long reserve(long bytes, long align) {
        long raw = Sys.mmap(0, bytes + align, Libc.PROT_NONE(),
                Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_NORESERVE(), -1, 0);
        long base = alignUp(raw, align);
        if (base > raw) {
            Sys.munmap(raw, base - raw);
        }
        long tail = raw + bytes + align - (base + bytes);
        if (tail > 0) {
            Sys.munmap(base + bytes, tail);
        }
        return base;
    }

    /**
     * A segment over one of the pool's two reservations (frame view, direct map), owned by the
     * pool's arena. Closing the pool does not unmap the range: it replaces everything in it
     * with inert anonymous memory (the frames' mappings go, so the frames go back to the
     * kernel), and the range is unmapped once this object is unreachable. A thread that
     * reads or writes an object at an absolute address while another closes the pool (the
     * slab fast paths do, see {@code KmemCacheImpl}) then touches throwaway memory, never an
     * unmapped page or another mapping that took the range.
     */
    private MemorySegment segment(long addr, long bytes) {
        UNMAPPER.register(this, () -> Sys.munmap(addr, bytes));
        return MemorySegment.ofAddress(addr).reinterpret(bytes, arena, s -> makeInert(addr, bytes));
    }

    private static void makeInert(long addr, long bytes) {
        Sys.mmap(addr, bytes, Libc.PROT_READ() | Libc.PROT_WRITE(),
                Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_NORESERVE() | Libc.MAP_FIXED(), -1, 0);
    }

    /** Returns a range to the reservation: PROT_NONE, nothing behind it. */
    private static void unmapToNone(long addr, long bytes) {
        Sys.mmap(addr, bytes, Libc.PROT_NONE(),
                Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_NORESERVE() | Libc.MAP_FIXED(), -1, 0);
    }

    static String noPfnMessage(String pool) {
        return "pool '" + pool + "': /proc/self/pagemap reports PFN 0 for pinned pages: reading physical frame"
                + " numbers needs CAP_SYS_ADMIN. Run the JVM as root (sudo java ...), or build the pool unprivileged"
                + " (MemoryPool.builder().unprivileged()): allocators work, but there are no physical addresses";
    }

    static long alignUp(long x, long a) {
        return (x + a - 1) & -a;
    }

    static long alignDown(long x, long a) {
        return x & -a;
    }
}
