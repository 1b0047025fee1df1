package io.kmem.vmtest;

import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.DmaApi.DMA_MAPPING_ERROR;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.kmem.Device;
import io.kmem.DmaDirection;
import io.kmem.IoMem;
import io.kmem.MemoryPool;
import io.kmem.PciDev;
import io.kmem.error.KmemException;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.PinState;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The long-term pin proven by force, run as root in the guest of {@code tools/vm-test pin}
 * (two NUMA nodes of 1 GiB each, CPUs on node 0, memory blocks that can be offlined, edu with
 * a 32-bit DMA mask). The kernel is made to migrate memory two ways, and a control region
 * shows that it really does:
 *
 * <ol>
 *   <li><b>Setup.</b> A control region outside kmem (a plain memfd, 32 MiB, populated and
 *       mlocked, bound to node 1 by {@code mbind}) and a kmem pool built with
 *       {@code requireLongTermPin()} whose memfd is bound to node 1 the same way before it
 *       grows by 32 MiB (so both sit in node 1's offlinable memory blocks, and no page table
 *       does: page tables follow the task's policy, node 0). Both filled with a pattern.</li>
 *   <li><b>move_pages.</b> Another process (this class, {@code move}, started with the driver
 *       and handed the addresses on its stdin) calls
 *       {@code move_pages(pid, ..., node 0, MPOL_MF_MOVE_ALL)} on every control page and every
 *       pool page: every control PFN changes, no pool PFN does. The driver moves the control
 *       back to node 1 itself: every control PFN changes again.</li>
 *   <li><b>Offline.</b> Blocks of node 1 with control pages and no pool frame are offlined
 *       (their control pages move; the block is onlined again after); blocks with pool frames
 *       (one of them also holding {@value #FILLER_KEPT} unpinned filler pages) are offlined
 *       until every unpinned page the driver put there has left and a migration pass that
 *       began with only pinned pages left has failed (read from {@code pgmigrate_fail}; at most
 *       5 s after the unpinned pages left, 20 s in all), then stopped by a signal: the kernel
 *       keeps retrying the pinned frames until the signal, the block stays online, the pool's
 *       frames stay, unpinned pages in the same block move. A block whose offline is refused at
 *       once, twice (compaction between), holds a page of the kernel's own that cannot move
 *       (seen: a slab page of node 1 in the filler's block, in about half the runs): isolation
 *       failed before any migration, so that attempt proves nothing; the page the kernel dumps
 *       must not be a pool frame, and the next block with pool frames is tried.</li>
 *   <li><b>After.</b> {@code verify()} finds every frame at its PFN, the pattern is intact, and
 *       the edu device DMAs between pool buffers through their physical addresses
 *       byte-exact.</li>
 *   <li><b>Fallback.</b> A thread with io_uring forbidden by a seccomp filter (as container
 *       profiles do, there for every thread; this 6.1 kernel has no
 *       {@code kernel.io_uring_disabled}) builds a pool:
 *       it warns, reports mlock only with the reason, {@code requireLongTermPin()} fails with
 *       the reason, and {@code move_pages} does move that pool's frames ({@code verify()}
 *       reports them).</li>
 * </ol>
 * Output lines start with {@code kmem-vmtest:}; the last is PASS or FAIL, as for
 * {@link EduDriver}.
 */
public final class PinDriver {
    private static final long PAGE = 4096;
    private static final long MIB = 1 << 20;
    private static final int PAGES = 8192;
    private static final int NODE0 = 0;
    private static final int NODE1 = 1;
    /** The longest an offline attempt runs before the driver stops it with a signal. */
    private static final int OFFLINE_TIMEOUT_S = 20;
    /**
     * The longest an attempt on a block with pool frames goes on once every unpinned page the
     * driver put in that block has left it (only pages the kernel cannot move remain, and it
     * keeps retrying them until the signal), when no failed migration pass is seen to end
     * sooner ({@link #offlineBlock}).
     */
    private static final int RETRY_WINDOW_S = 5;
    /** How often an offline attempt's progress is read. */
    private static final long POLL_MS = 100;
    /** The filler pages kept in the slab block for the offline attempts ({@link #trimFiller}). */
    private static final int FILLER_KEPT = 2048;
    /** The pin scenario's edu is started with {@code dma_mask=0xffffffffffffffff}: the DIMM lies above 4 GiB. */
    private static final long EDU_MASK = DMA_BIT_MASK(64);

    private static final long START = System.nanoTime();
    /** A page's worth of pattern, per thread (the fallback fills pages in its own thread). */
    private static final ThreadLocal<long[]> PATTERN = ThreadLocal.withInitial(() -> new long[(int) (PAGE / 8)]);
    private int checks;

    public static void main(String[] args) {
        PinDriver d = new PinDriver();
        try {
            if (args.length > 0 && args[0].equals("move")) {
                move();
                return;
            }
            d.run();
            say("PASS: %d checks, %d ms in the driver", d.checks, (System.nanoTime() - START) / 1_000_000);
            System.exit(0);
        } catch (Throwable t) {
            say("FAIL: %s", t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    private void run() throws Exception {
        long blockBytes = Long.parseLong(Files.readString(Path.of("/sys/devices/system/memory/block_size_bytes"))
                .strip(), 16);
        say("start: %s, Java %s, pid %d; nodes %s, memory blocks of %d MiB", Files.readString(Path.of(
                "/proc/version")).strip().split(" \\(")[0], Runtime.version(), ProcessHandle.current().pid(),
                Files.readString(Path.of("/sys/devices/system/node/has_memory")).strip(), blockBytes >> 20);
        check(Files.exists(Path.of("/sys/devices/system/node/node1")), "the guest has a NUMA node 1");
        // The process that will call move_pages starts now and waits for its addresses on its
        // stdin: its JVM starts and links its system call while this one sets up.
        Process mover = startChild("move");
        // The DIMM's memory blocks are offline after boot (memhp_default_state=offline), so no
        // kernel allocation has landed in them: the lower half goes online as ZONE_NORMAL, the
        // upper half as ZONE_MOVABLE, both in node 1.
        List<Long> dimm = new ArrayList<>();
        try (var blocks = Files.list(Path.of("/sys/devices/system/memory"))) {
            for (Path b : blocks.filter(p -> p.getFileName().toString().matches("memory\\d+")).toList()) {
                if (Files.readString(b.resolve("state")).strip().equals("offline")) {
                    dimm.add(Long.parseLong(b.getFileName().toString().substring(6)));
                }
            }
        }
        java.util.Collections.sort(dimm);
        check(dimm.size() >= 4, "the DIMM's memory blocks are offline after boot: %s", dimm);
        // The first ZONE_NORMAL block of node 1 receives the kernel's per-node slab structures
        // (unmovable): it is onlined alone and filled, so the pool's frames land in the next one.
        setState(dimm.get(0), "online_kernel");
        long filler = fillBlock(blockBytes);
        for (int i = 1; i < dimm.size(); i++) {
            setState(dimm.get(i), i < dimm.size() / 2 ? "online_kernel" : "online_movable");
        }
        say("DIMM memory blocks %s of node 1 onlined: lower half ZONE_NORMAL, upper half ZONE_MOVABLE (%s);"
                + " memory%d (the kernel's slab for node 1) filled first: %s", dimm, zonesOf(dimm), dimm.get(0),
                byBlock(pfns(filler, (int) (blockBytes / PAGE)), blockBytes));

        // 1. The control region and the pool, both on node 1.
        long control = controlRegion();
        long[] controlPfns0 = pfns(control, PAGES);
        check(countOnNode(controlPfns0, blockBytes, NODE1) == PAGES, "the control region's %d pages are on node 1",
                PAGES);
        try (MemoryPool pool = MemoryPool.builder().name("pin").smallPages(4 * MIB).maxSmallPages(68 * MIB)
                .requireLongTermPin().build()) {
            PinState pin = pool.pinState();
            check(pin.longTerm(), "the pool is pinned long-term: %s", pin.summary());
            bindPoolMemfd("pin", 68 * MIB, NODE1);
            // Blocks from the pool's first 4 MiB (node 0) are put aside; the rest grew on node 1.
            long[] blocks = new long[PAGES / 512];
            List<Long> aside = new ArrayList<>();
            for (int i = 0; i < blocks.length; ) {
                long b = pool.__get_free_pages(GFP_KERNEL, 9);
                check(b != 0, "__get_free_pages(GFP_KERNEL, 9) #%d grows the pool", i + aside.size());
                if (countOnNode(new long[] {pool.virt_to_phys(b) / PAGE}, blockBytes, NODE1) == 1) {
                    blocks[i++] = b;
                } else {
                    aside.add(b);
                }
            }
            for (long b : aside) {
                pool.free_pages(b, 9);
            }
            long[] poolAddrs = new long[PAGES];
            for (int i = 0; i < PAGES; i++) {
                poolAddrs[i] = blocks[i / 512] + (i % 512) * PAGE;
                fill(poolAddrs[i], i);
            }
            long[] poolPfns0 = new long[PAGES];
            long[] pagemap0 = pagemapPfns(poolAddrs);
            for (int i = 0; i < PAGES; i++) {
                poolPfns0[i] = pool.virt_to_phys(poolAddrs[i]) / PAGE;
                check(pagemap0[i] == poolPfns0[i], "pool page %d: pagemap agrees with virt_to_phys", i);
            }
            check(countOnNode(poolPfns0, blockBytes, NODE1) == PAGES, "the pool's %d test pages are on node 1 (%d)",
                    PAGES, countOnNode(poolPfns0, blockBytes, NODE1));
            say("where the pages are: control by block %s; pool test pages by block %s (registration migrated them"
                    + " out of ZONE_MOVABLE before kmem read their PFNs)", byBlock(controlPfns0, blockBytes),
                    byBlock(poolPfns0, blockBytes));
            pin = pool.pinState();
            check(pin.longTerm() && pin.pinnedBytes() >= 36 * MIB, "pinned: %s", pin.summary());
            say("setup: control region 32 MiB at 0x%x, pool '%s' %s; pool meminfo says:%n%s", control, "pin",
                    pin.summary(), grepMeminfo(pool.meminfo()));

            // 2. move_pages from another process.
            long pid = ProcessHandle.current().pid();
            long tMove = System.nanoTime();
            try (var in = mover.getOutputStream()) {
                in.write(("control " + pid + " " + NODE0 + " " + runs(addressesOf(control, PAGES)) + "\n"
                        + "pool " + pid + " " + NODE0 + " " + runs(poolAddrs) + "\n").getBytes());
            }
            finishChild(mover, "move", tMove);
            long[] controlPfns1 = pfns(control, PAGES);
            int ctlMoved = changed(controlPfns0, controlPfns1);
            int poolMoved = changed(poolPfns0, pagemapPfns(poolAddrs));
            say("move_pages to node 0 (MPOL_MF_MOVE_ALL, from pid of another process): control %d of %d PFNs"
                    + " changed (%d now on node 0), pool %d of %d", ctlMoved, PAGES,
                    countOnNode(controlPfns1, blockBytes, NODE0), poolMoved, PAGES);
            check(ctlMoved == PAGES, "move_pages moved every control page: %d of %d", ctlMoved, PAGES);
            check(poolMoved == 0, "move_pages moved no pool page: %d of %d", poolMoved, PAGES);
            // Back to node 1 for the offline step: this process moves its own pages (one JVM start less).
            long notMoved = movePages(0, addressesOf(control, PAGES), NODE1);
            check(notMoved == 0, "move_pages of the control back to node 1 = %d", notMoved);
            long[] controlPfns2 = pfns(control, PAGES);
            int back = changed(controlPfns1, controlPfns2);
            say("move_pages of the control back to node 1: %d of %d PFNs changed", back, PAGES);
            check(back == PAGES && countOnNode(controlPfns2, blockBytes, NODE1) == PAGES,
                    "the control region moved back to node 1 (%d changed)", back);

            // 3. Memory blocks offlined.
            offline(pool, control, controlPfns2, poolAddrs, poolPfns0, filler, dimm.get(0), blockBytes);

            // 4. After: frames where they were, data intact, a device DMAs through them.
            FrameVerification v = pool.verify();
            check(v.moved().isEmpty(), "verify(): every one of %d frames at its PFN; moved: %s", v.framesChecked(),
                    v.moved());
            for (int i = 0; i < PAGES; i++) {
                checkFill(poolAddrs[i], i);
            }
            say("after: verify() checked %d frames, none moved; the pattern of %d pool pages is intact", v.framesChecked(),
                    PAGES);
            dmaRoundTrip(pool, poolAddrs);
            for (long b : blocks) {
                pool.free_pages(b, 9);
            }
        }

        // 5. The fallback, in a thread that may not use io_uring.
        String out = fallbackThread();
        check(out.contains("frames are mlocked only, not pinned long-term: io_uring is forbidden"),
                "the fallback pool's warning names the reason");
    }

    // ------------------------------------------------------------------ offline

    private void offline(MemoryPool pool, long control, long[] controlPfns, long[] poolAddrs, long[] poolPfns,
                         long filler, long fillerBlock, long blockBytes) throws Exception {
        int fillerPages = trimFiller(filler, fillerBlock, blockBytes);
        say("offline: the filler keeps its first %d pages (%d of them in memory%d) and frees the rest", fillerPages,
                inBlock(pfns(filler, fillerPages), fillerBlock, blockBytes), fillerBlock);
        Map<Long, Integer> ctlByBlock = new TreeMap<>();
        Map<Long, Integer> poolByBlock = new TreeMap<>();
        for (long pfn : controlPfns) {
            ctlByBlock.merge(pfn * PAGE / blockBytes, 1, Integer::sum);
        }
        for (long pfn : poolPfns) {
            poolByBlock.merge(pfn * PAGE / blockBytes, 1, Integer::sum);
        }
        say("offline: control pages by memory block %s, pool test pages by block %s", ctlByBlock, poolByBlock);
        int controlOfflined = 0;
        int controlMovedByOffline = 0;
        for (long block : ctlByBlock.keySet()) {
            if (poolByBlock.containsKey(block) || controlOfflined > 0) {
                continue;
            }
            long[] before = pfns(control, PAGES);
            Offline r = offlineBlock(block, 0, () -> false);
            long[] after = pfns(control, PAGES);
            int moved = changedIn(before, after, block, blockBytes);
            say("offline memory%d (control only, %d control pages): %s; %d control pages moved", block,
                    ctlByBlock.get(block), r, moved);
            if (r.offlined()) {
                controlOfflined++;
                controlMovedByOffline += moved;
                check(moved == ctlByBlock.get(block), "offlining memory%d moved all its %d control pages (%d)", block,
                        ctlByBlock.get(block), moved);
                setState(block, "online_movable");
            }
        }
        check(controlOfflined > 0, "a memory block holding control pages and no pool frame was offlined");
        int attempts = 0;
        int retried = 0;
        int withUnpinned = 0;
        List<Long> unmovable = new ArrayList<>();
        for (Map.Entry<Long, Integer> e : poolByBlock.entrySet()) {
            if (attempts == 2) {
                break;
            }
            long block = e.getKey();
            attempts++;
            long[] ctlBefore = pfns(control, PAGES);
            long[] fillerBefore = pfns(filler, fillerPages);
            int ctlIn = inBlock(ctlBefore, block, blockBytes);
            int fillerIn = inBlock(fillerBefore, block, blockBytes);
            // The attempt has only pinned pages left once the control and filler pages that were
            // in the block have all left it.
            Unpinned gone = () -> (ctlIn == 0 || leftBlock(ctlBefore, pfns(control, PAGES), block, blockBytes) == ctlIn)
                    && (fillerIn == 0 || leftBlock(fillerBefore, pfns(filler, fillerPages), block, blockBytes)
                    == fillerIn);
            dmesg("-c");
            Offline r = offlineBlock(block, e.getValue(), gone);
            String dump = "";
            if (!r.offlined() && !r.timedOut()) {
                dump = dmesgTail();
                say("offline memory%d refused at once (%s); the kernel says:%n%s", block, r, dump);
                // Refused at once: isolation found a page the kernel cannot move at all (the dump
                // names it; seen: a slab page of node 1). Compaction, one more force that would
                // migrate an unpinned page, then one more attempt.
                Files.writeString(Path.of("/proc/sys/vm/compact_memory"), "1");
                r = offlineBlock(block, e.getValue(), gone);
            }
            int ctlMoved = changedIn(ctlBefore, pfns(control, PAGES), block, blockBytes);
            int poolMoved = changed(poolPfns, pagemapPfns(poolAddrs));
            long[] fillerAfter = pfns(filler, fillerPages);
            int fillerMoved = changedIn(fillerBefore, fillerAfter, block, blockBytes);
            say("offline memory%d (%d pool test pages, %d control pages, %d unpinned filler pages): %s; pool pages"
                    + " moved: %d, control pages of the block moved: %d, filler pages of the block moved: %d; the kernel"
                    + " logged %d failed migrations of pool frames (it logs at most 10 per 5 s)", block, e.getValue(),
                    ctlIn, fillerIn, r, poolMoved, ctlMoved, fillerMoved, failedMigrations(dmesg(), poolPfns));
            check(!r.offlined(), "memory%d with pinned pool frames stays online", block);
            check(poolMoved == 0, "no pool page moved while memory%d was being offlined (%d)", block, poolMoved);
            if (!r.timedOut()) {
                // Refused at once again: the block holds a page of the kernel's own that it cannot
                // move (an unmovable slab page of node 1 lands in the DIMM's ZONE_NORMAL blocks at
                // times), so isolation failed before any migration and the attempt says nothing
                // about the pool's frames. The next block with pool frames is tried instead.
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("pfn:0x([0-9a-f]+)").matcher(dump);
                long pfn = m.find() ? Long.parseLong(m.group(1), 16) : -1;
                check(pfn < 0 || java.util.Arrays.stream(poolPfns).noneMatch(f -> f == pfn),
                        "the page that made memory%d's offline fail at once is not a pool frame (pfn 0x%x)", block, pfn);
                say("memory%d holds a page the kernel cannot move (%s, not a pool frame): the attempt proves nothing,"
                        + " the next block with pool frames is tried", block, pfn < 0 ? "no page dump in the log"
                        : "pfn 0x" + Long.toHexString(pfn));
                unmovable.add(block);
                attempts--;
                continue;
            }
            // The kernel ran migration passes over the block: they moved every unpinned page of
            // the driver's that was in it, in the same attempt that failed on the pool's frames.
            if (ctlIn + fillerIn > 0) {
                check(fillerMoved + ctlMoved > 0, "the same offline attempt moved unpinned pages of memory%d"
                        + " (filler %d of %d, control %d of %d)", block, fillerMoved, fillerIn, ctlMoved, ctlIn);
                withUnpinned++;
            }
            retried++;
        }
        check(retried > 0, "the kernel kept retrying the offline of a block with pinned frames until stopped"
                + " (a block that fails at once has unmovable pages of its own and proves nothing)");
        say("offline: %d control pages moved by offlining; %d of %d blocks with pool frames kept retrying, with"
                + " only pinned pages left, until stopped, and stayed online (%d of them also held unpinned pages of"
                + " the driver's, all moved by the same attempt)%s", controlMovedByOffline, retried, attempts,
                withUnpinned, unmovable.isEmpty() ? "" : "; skipped, holding a page the kernel cannot move: "
                + unmovable.stream().map(b -> "memory" + b).toList());
    }

    /**
     * Frees the filler's pages from the {@value #FILLER_KEPT}th of them in {@code block} on
     * ({@code MADV_REMOVE} gives a shmem file's pages back); returns how many pages it keeps. The
     * filler has done its part once the pool's frames are placed; an offline attempt migrates
     * every unpinned page of the block, about 250 us a page under TCG, and a few thousand show
     * that it does as well as the whole block would.
     */
    private static int trimFiller(long filler, long block, long blockBytes) throws IOException {
        int pages = (int) (blockBytes / PAGE);
        long[] pfns = pfns(filler, pages);
        int kept = 0;
        for (int in = 0; kept < pages && in < FILLER_KEPT; kept++) {
            in += pfns[kept] >= 0 && pfns[kept] * PAGE / blockBytes == block ? 1 : 0;
        }
        if (kept < pages) {
            Native.call("madvise(MADV_REMOVE)", Native.SYS_MADVISE, filler + kept * PAGE, (pages - kept) * PAGE,
                    Native.MADV_REMOVE);
        }
        return kept;
    }

    /**
     * An offline attempt: offlined, refused, or still retrying when the driver stopped it
     * ({@code timedOut}); {@code passEnds}, when each of the kernel's migration passes that
     * failed at least the block's pinned test pages was seen to end (ms into the attempt);
     * {@code failedPages}, what {@code pgmigrate_fail} grew by; {@code stoppedAfterPass},
     * whether the driver stopped it after such a pass rather than at a time limit.
     */
    private record Offline(boolean offlined, boolean timedOut, long millis, String state, String output,
                           List<Long> passEnds, long failedPages, boolean stoppedAfterPass) {
        @Override
        public String toString() {
            return (offlined ? "offlined" : !timedOut ? "refused" : stoppedAfterPass
                    ? "still retrying when stopped (SIGTERM) after a failed migration pass with only pinned pages left"
                    : "still retrying when stopped (SIGTERM) at its time limit")
                    + " in " + millis + " ms, state " + state
                    + (passEnds.isEmpty() && failedPages == 0 ? "" : "; failed passes ended at " + passEnds
                    + " ms, pgmigrate_fail +" + failedPages)
                    + (output.isBlank() ? "" : ", '" + output.strip() + "'");
        }
    }

    /** Whether every unpinned page the driver put in a block has left it (read from pagemap). */
    @FunctionalInterface
    private interface Unpinned {
        boolean gone() throws IOException;
    }

    /**
     * Writes "offline" to the block's state from a shell and waits for the write to return. The
     * kernel retries pages it cannot migrate until the writer has a signal pending
     * ({@code offline_pages} in {@code mm/memory_hotplug.c}): each pass isolates the block's
     * movable pages and calls {@code migrate_pages} on them once, which adds the pages it failed
     * to {@code pgmigrate_fail}. For a block with {@code pinned} pinned test pages the driver
     * counts a pass each time that counter grows by at least {@code pinned} between two polls,
     * and ends the write with SIGTERM once a pass that began with only pinned pages left (after
     * {@code unpinned} first said so) has failed and the write still runs at the next poll; at
     * the latest {@value #RETRY_WINDOW_S} s after {@code unpinned} first said so, or after
     * {@value #OFFLINE_TIMEOUT_S} s.
     */
    private static Offline offlineBlock(long block, int pinned, Unpinned unpinned) throws Exception {
        String state = "/sys/devices/system/memory/memory" + block + "/state";
        // No unpinned page of the driver's in the block: the first pass has only pinned ones.
        boolean pinnedOnly = pinned > 0 && unpinned.gone();
        long fail0 = migrationFailures();
        long t = System.nanoTime();
        Process p = new ProcessBuilder("sh", "-c", "echo offline > " + state).redirectErrorStream(true).start();
        long settled = pinnedOnly ? t : -1;
        int stopAfter = pinnedOnly ? 1 : Integer.MAX_VALUE;
        List<Long> passEnds = new ArrayList<>();
        long last = fail0;
        boolean passSeen = false;
        boolean stopped = false;
        while (!p.waitFor(POLL_MS, TimeUnit.MILLISECONDS)) {
            long now = System.nanoTime();
            if (passSeen) {
                stopped = true;
                break;
            }
            // gone() before the counter: the pass running when gone() first says so is at most
            // one past those the counter shows next, so the pass after that began with only
            // pinned pages left.
            boolean settledNow = pinned > 0 && settled < 0 && unpinned.gone();
            long f = migrationFailures();
            if (pinned > 0 && f - last >= pinned) {
                passEnds.add((now - t) / 1_000_000);
            }
            last = f;
            if (settledNow) {
                settled = now;
                stopAfter = passEnds.size() + 2;
            }
            passSeen = passEnds.size() >= stopAfter;
            if (!passSeen && (now - t >= OFFLINE_TIMEOUT_S * 1_000_000_000L
                    || settled >= 0 && now - settled >= RETRY_WINDOW_S * 1_000_000_000L)) {
                stopped = true;
                break;
            }
        }
        if (stopped) {
            p.destroy();
        }
        // destroy() closes the shell's output; a shell stopped in its write has printed nothing.
        String out = stopped ? "" : new String(p.getInputStream().readAllBytes());
        check0(p.waitFor(30, TimeUnit.SECONDS), "the shell offlining memory%d exits after SIGTERM", block);
        long ms = (System.nanoTime() - t) / 1_000_000;
        String now = Files.readString(Path.of(state)).strip();
        return new Offline(now.equals("offline"), stopped && !now.equals("offline"), ms, now, out, passEnds,
                migrationFailures() - fail0, stopped && passSeen);
    }

    /**
     * The kernel's count of pages it failed to migrate ({@code pgmigrate_fail} in /proc/vmstat),
     * added to once at the end of each {@code migrate_pages} call; 0 when the kernel has none.
     */
    private static long migrationFailures() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/vmstat"))) {
            if (line.startsWith("pgmigrate_fail ")) {
                return Long.parseLong(line.substring("pgmigrate_fail ".length()).strip());
            }
        }
        return 0;
    }

    /** The kernel log, one entry a line; {@code dmesg -c} reads and clears it. */
    private static List<String> dmesg(String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("dmesg"));
        cmd.addAll(List.of(options));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> lines = List.of(new String(p.getInputStream().readAllBytes()).split("\n"));
        p.waitFor();
        return lines;
    }

    /** The kernel's "migrating pfn N failed" lines ({@code do_migrate_range}) that name one of {@code pfns}. */
    private static int failedMigrations(List<String> log, long[] pfns) {
        java.util.Set<Long> pool = new java.util.HashSet<>();
        for (long pfn : pfns) {
            pool.add(pfn);
        }
        java.util.regex.Pattern failed = java.util.regex.Pattern.compile("migrating pfn ([0-9a-f]+) failed");
        int n = 0;
        for (String line : log) {
            java.util.regex.Matcher m = failed.matcher(line);
            n += m.find() && pool.contains(Long.parseLong(m.group(1), 16)) ? 1 : 0;
        }
        return n;
    }

    private static String dmesgTail() throws Exception {
        Process p = new ProcessBuilder("dmesg").redirectErrorStream(true).start();
        String[] lines = new String(p.getInputStream().readAllBytes()).split("\n");
        p.waitFor();
        StringBuilder sb = new StringBuilder();
        for (int i = Math.max(0, lines.length - 12); i < lines.length; i++) {
            sb.append("kmem-vmtest:     | ").append(lines[i]).append('\n');
        }
        return sb.toString().stripTrailing();
    }

    private static void setState(long block, String state) throws IOException {
        Files.writeString(Path.of("/sys/devices/system/memory/memory" + block + "/state"), state);
    }

    /** Each block's zone as sysfs names it ({@code valid_zones} of an online block is its zone). */
    private static String zonesOf(List<Long> blocks) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (long b : blocks) {
            sb.append(sb.isEmpty() ? "" : ", ").append("memory").append(b).append(": ").append(Files.readString(
                    Path.of("/sys/devices/system/memory/memory" + b + "/valid_zones")).strip());
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ DMA

    private void dmaRoundTrip(MemoryPool pool, long[] poolAddrs) throws Exception {
        PciDev pdev = pool.pci_get_device(Edu.VENDOR, Edu.DEVICE, null);
        check(pdev != null, "the edu device is there");
        pool.pci_enable_device(pdev);
        pool.pci_set_master(pdev);
        Device dev = pdev.dev();
        check(pool.dma_set_mask_and_coherent(dev, EDU_MASK) == 0, "dma_set_mask_and_coherent(64 bits)");
        IoMem regs = pool.pci_iomap(pdev, 0, 0);
        Edu edu = new Edu(regs, EDU_MASK);
        int n = Edu.MAX_TRANSFER;
        int rounds = 0;
        for (int i = 0; i + 512 < PAGES; i += 1031) {
            long src = poolAddrs[i];
            long dst = poolAddrs[i + 512];
            MemorySegment s = MemorySegment.ofAddress(src).reinterpret(PAGE);
            MemorySegment d = MemorySegment.ofAddress(dst).reinterpret(PAGE);
            byte[] want = s.asSlice(0, n).toArray(JAVA_BYTE);
            d.fill((byte) 0);
            long sd = pool.dma_map_single(dev, src, n, DmaDirection.DMA_TO_DEVICE);
            long dd = pool.dma_map_single(dev, dst, n, DmaDirection.DMA_FROM_DEVICE);
            check(sd != DMA_MAPPING_ERROR && dd != DMA_MAPPING_ERROR, "dma_map_single of pool pages %d and %d", i,
                    i + 512);
            check(sd == pagemapPfn(src) * PAGE && dd == pagemapPfn(dst) * PAGE,
                    "the DMA addresses are the pages' PFNs in pagemap now");
            edu.dmaToDevice(sd, 0, n);
            edu.dmaToRam(0, dd, n);
            pool.dma_unmap_single(dev, sd, n, DmaDirection.DMA_TO_DEVICE);
            pool.dma_unmap_single(dev, dd, n, DmaDirection.DMA_FROM_DEVICE);
            check(java.util.Arrays.equals(want, d.asSlice(0, n).toArray(JAVA_BYTE)),
                    "edu DMA pool page %d -> device -> pool page %d is byte-exact", i, i + 512);
            fill(dst, i + 512);
            rounds++;
        }
        pool.pci_iounmap(pdev, regs);
        say("edu DMA after the migration attempts: %d round trips of %d bytes through the pool's physical addresses,"
                + " byte-exact", rounds, n);
    }

    // ------------------------------------------------------------------ fallback (a thread without io_uring)

    /**
     * Runs {@link #fallback} in a thread of its own that installs, first thing, a seccomp filter
     * refusing {@code io_uring_setup} with EPERM, as a container's profile does. A filter
     * installed without TSYNC binds the thread that installs it and the threads it starts, not
     * the rest of the process, and kmem pins from the thread that builds or grows a pool: that
     * pool meets exactly the refusal it would meet in such a container, without a second JVM's
     * start (seconds under TCG). Its checks are counted apart, as a child process's were, and
     * one check here says it finished; returns what it wrote to stderr (kmem's warning).
     */
    private String fallbackThread() throws Exception {
        PinDriver f = new PinDriver();
        Throwable[] failed = new Throwable[1];
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        long t = System.nanoTime();
        System.setErr(new PrintStream(err, true));
        try {
            Thread th = new Thread(() -> {
                try {
                    f.fallback();
                } catch (Throwable e) {
                    failed[0] = e;
                }
            }, "fallback");
            th.start();
            th.join();
        } finally {
            System.setErr(stderr);
        }
        String out = err.toString();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                System.out.println("kmem-vmtest:   [fallback stderr] " + line);
            }
        }
        if (failed[0] != null) {
            failed[0].printStackTrace(System.out);
        }
        check(failed[0] == null, "the fallback thread finished after %d ms: %s", (System.nanoTime() - t) / 1_000_000,
                failed[0]);
        say("fallback: OK, %d checks", f.checks);
        return out;
    }

    private void fallback() throws Exception {
        Native.forbidIoUringInThisThread();
        check(Native.callOrErrno(Native.SYS_IO_URING_SETUP, 1, 0) == -Native.EPERM,
                "io_uring_setup is forbidden in this thread (EPERM)");
        try (MemoryPool pool = MemoryPool.builder().name("fallback").smallPages(8 * MIB).build()) {
            PinState pin = pool.pinState();
            say("fallback: pool built with io_uring forbidden: %s", pin.summary());
            check(!pin.longTerm() && pin.pinnedBytes() == 0, "the pool reports mlock only");
            check(pin.reason().startsWith("io_uring is forbidden (io_uring_setup EPERM)"), "reason: %s", pin.reason());
            check(pool.meminfo().contains("Pinning:         mlock only"), "meminfo says mlock only");
            // Single pages: after the offline attempts the guest's memory is fragmented, and an
            // order-9 block needs 512 physically contiguous frames (NULL when there are none).
            long[] addrs = new long[512];
            for (int i = 0; i < 512; i++) {
                addrs[i] = pool.__get_free_pages(GFP_KERNEL, 0);
                check(addrs[i] != 0, "__get_free_pages(GFP_KERNEL, 0) #%d of the mlock-only pool", i);
                fill(addrs[i], i);
            }
            long[] before = pagemapPfns(addrs);
            int to = countOnNode(before, Long.parseLong(Files.readString(Path.of(
                    "/sys/devices/system/memory/block_size_bytes")).strip(), 16), NODE0) > 0 ? NODE1 : NODE0;
            long r = movePages(0, addrs, to);
            FrameVerification v = pool.verify();
            int moved = changed(before, pagemapPfns(addrs));
            say("fallback: move_pages of an mlock-only pool's 512 pages to node %d = %d: %d PFNs changed; verify()"
                    + " reports %d moved frames", to, r, moved, v.moved().size());
            check(moved > 0 && v.moved().size() >= moved, "an mlock-only pool's frames do move, and verify() sees it");
            for (int i = 0; i < 512; i++) {
                checkFill(addrs[i], i);
                pool.free_pages(addrs[i], 0);
            }
        }
        try {
            MemoryPool.builder().name("required").smallPages(8 * MIB).requireLongTermPin().build().close();
            check(false, "requireLongTermPin() fails when io_uring is forbidden");
        } catch (KmemException e) {
            say("fallback: requireLongTermPin(): %s", e.getMessage());
            check(e.getMessage().contains("requires a long-term pin") && e.getMessage().contains("seccomp"),
                    "the error names the refusal and the fix");
        }
    }

    // ------------------------------------------------------------------ move_pages (child process)

    /**
     * The other process's part: links {@code move_pages} (a call of no pages), then reads lines
     * {@code "name pid node base+pages ..."} from stdin and moves each set of the other
     * process's pages to that node; ends with its input.
     */
    private static void move() throws IOException {
        movePages(0, new long[0], NODE0);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String[] f = line.split(" ");
            long pid = Long.parseLong(f[1]);
            int node = Integer.parseInt(f[2]);
            long[] addrs = fromRuns(f, 3);
            long r = movePages(pid, addrs, node);
            say("move: move_pages(%d, %d pages of the %s, node %d, MPOL_MF_MOVE_ALL) = %d", pid, addrs.length, f[0],
                    node, r);
        }
        System.exit(0);
    }

    /** {@code addrs} as runs of consecutive pages, {@code "base+pages"} in hex and decimal, separated by spaces. */
    private static String runs(long[] addrs) {
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < addrs.length) {
            int j = i + 1;
            while (j < addrs.length && addrs[j] == addrs[j - 1] + PAGE) {
                j++;
            }
            sb.append(sb.isEmpty() ? "" : " ").append(Long.toHexString(addrs[i])).append('+').append(j - i);
            i = j;
        }
        return sb.toString();
    }

    /** The addresses of the runs in {@code f[from..]} ({@link #runs}). */
    private static long[] fromRuns(String[] f, int from) {
        List<long[]> parts = new ArrayList<>();
        int n = 0;
        for (int k = from; k < f.length; k++) {
            int plus = f[k].indexOf('+');
            long[] run = addressesOf(Long.parseUnsignedLong(f[k].substring(0, plus), 16),
                    Integer.parseInt(f[k].substring(plus + 1)));
            parts.add(run);
            n += run.length;
        }
        long[] addrs = new long[n];
        int at = 0;
        for (long[] run : parts) {
            System.arraycopy(run, 0, addrs, at, run.length);
            at += run.length;
        }
        return addrs;
    }

    /** {@code move_pages} of {@code addrs} to {@code node}; the kernel's result (pages not moved, or -errno). */
    private static long movePages(long pid, long[] addrs, int node) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pages = a.allocate(JAVA_LONG, addrs.length);
            MemorySegment nodes = a.allocate(java.lang.foreign.ValueLayout.JAVA_INT, addrs.length);
            MemorySegment status = a.allocate(java.lang.foreign.ValueLayout.JAVA_INT, addrs.length);
            for (int i = 0; i < addrs.length; i++) {
                pages.setAtIndex(JAVA_LONG, i, addrs[i]);
                nodes.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i, node);
            }
            return Native.callOrErrno(Native.SYS_MOVE_PAGES, pid, addrs.length, pages.address(), nodes.address(),
                    status.address(), Native.MPOL_MF_MOVE_ALL);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** A memfd of one memory block's size bound to node 1, populated: run while node 1 has one ZONE_NORMAL block. */
    private static long fillBlock(long blockBytes) {
        try (Arena a = Arena.ofConfined()) {
            long fd = Native.call("memfd_create", Native.SYS_MEMFD_CREATE, a.allocateFrom("filler").address(), 0);
            Native.call("ftruncate", Native.SYS_FTRUNCATE, fd, blockBytes);
            long addr = Native.call("mmap", Native.SYS_MMAP, 0, blockBytes, Native.PROT_READ | Native.PROT_WRITE,
                    Native.MAP_SHARED, fd, 0);
            Native.bindToNode(addr, blockBytes, NODE1);
            Native.call("madvise", Native.SYS_MADVISE, addr, blockBytes, Native.MADV_NOHUGEPAGE);
            // One call faults every page in (Linux 5.14+): no page fault per page, each of which
            // costs a trap under TCG; older kernels get the loop.
            if (Native.callOrErrno(Native.SYS_MADVISE, addr, blockBytes, Native.MADV_POPULATE_WRITE) != 0) {
                for (long o = 0; o < blockBytes; o += PAGE) {
                    MemorySegment.ofAddress(addr + o).reinterpret(8).set(JAVA_LONG, 0, o);
                }
            }
            return addr;
        }
    }

    /** 32 MiB of a plain memfd bound to node 1, populated and mlocked; outside kmem. */
    private static long controlRegion() {
        try (Arena a = Arena.ofConfined()) {
            long fd = Native.call("memfd_create", Native.SYS_MEMFD_CREATE, a.allocateFrom("control").address(), 0);
            long bytes = PAGES * PAGE;
            Native.call("ftruncate", Native.SYS_FTRUNCATE, fd, bytes);
            long addr = Native.call("mmap", Native.SYS_MMAP, 0, bytes, Native.PROT_READ | Native.PROT_WRITE,
                    Native.MAP_SHARED, fd, 0);
            Native.bindToNode(addr, bytes, NODE1);
            Native.call("madvise", Native.SYS_MADVISE, addr, bytes, Native.MADV_NOHUGEPAGE);
            for (int i = 0; i < PAGES; i++) {
                fill(addr + i * PAGE, -1 - i);
            }
            Native.call("mlock", Native.SYS_MLOCK, addr, bytes);
            return addr;
        }
    }

    /**
     * Binds the pool's memfd (found by its name in /proc/self/fd) to {@code node}: a shmem
     * file's NUMA policy lives in its inode, so the pages the pool brings in next come from
     * that node, while page tables follow the task's policy.
     */
    private static void bindPoolMemfd(String pool, long bytes, int node) throws IOException {
        long fd = -1;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(p).toString().contains("memfd:kmem:" + pool + ":small_4k")) {
                        fd = Long.parseLong(p.getFileName().toString());
                    }
                } catch (IOException gone) {
                    // a descriptor closed while listing
                }
            }
        }
        check0(fd >= 0, "the pool's memfd is in /proc/self/fd");
        long addr = Native.call("mmap", Native.SYS_MMAP, 0, bytes, Native.PROT_READ, Native.MAP_SHARED, fd, 0);
        Native.bindToNode(addr, bytes, node);
        Native.call("munmap", Native.SYS_MUNMAP, addr, bytes);
    }

    /** The pattern of the page {@code seed}: at byte offset o, the long seed * 0x9E3779B97F4A7C15 + o. */
    private static long[] pattern(long seed) {
        long[] p = PATTERN.get();
        for (int k = 0; k < p.length; k++) {
            p[k] = seed * 0x9E3779B97F4A7C15L + 8L * k;
        }
        return p;
    }

    /** Writes the page's pattern in one copy (a page written a long at a time costs far more under TCG). */
    private static void fill(long addr, long seed) {
        MemorySegment.copy(pattern(seed), 0, MemorySegment.ofAddress(addr).reinterpret(PAGE), JAVA_LONG, 0,
                (int) (PAGE / 8));
    }

    private static void checkFill(long addr, long seed) {
        long at = MemorySegment.ofAddress(addr).reinterpret(PAGE).mismatch(MemorySegment.ofArray(pattern(seed)));
        if (at >= 0) {
            throw new AssertionError(String.format("page at 0x%x lost its pattern at +%d", addr, at & ~7L));
        }
    }

    private static long pagemapPfn(long addr) throws IOException {
        return pagemapPfns(new long[] {addr})[0];
    }

    private static long[] pfns(long addr, int pages) throws IOException {
        return pagemapPfns(addressesOf(addr, pages));
    }

    /** The PFN of each address from /proc/self/pagemap (-1 where not present); one read per run of consecutive pages. */
    private static long[] pagemapPfns(long[] addrs) throws IOException {
        long[] out = new long[addrs.length];
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/pagemap"), StandardOpenOption.READ)) {
            int i = 0;
            while (i < addrs.length) {
                int j = i + 1;
                while (j < addrs.length && addrs[j] / PAGE == addrs[j - 1] / PAGE + 1) {
                    j++;
                }
                ByteBuffer b = ByteBuffer.allocate(8 * (j - i)).order(ByteOrder.LITTLE_ENDIAN);
                while (b.hasRemaining()) {
                    if (ch.read(b, addrs[i] / PAGE * 8 + b.position()) <= 0) {
                        throw new IOException("short read of /proc/self/pagemap at 0x" + Long.toHexString(addrs[i]));
                    }
                }
                for (int k = i; k < j; k++) {
                    long e = b.getLong(8 * (k - i));
                    out[k] = e < 0 ? e & ((1L << 55) - 1) : -1;
                }
                i = j;
            }
        }
        return out;
    }

    private static int countOnNode(long[] pfns, long blockBytes, int node) {
        Map<Long, Boolean> onNode = new TreeMap<>();
        int n = 0;
        for (long pfn : pfns) {
            if (pfn >= 0 && onNode.computeIfAbsent(pfn * PAGE / blockBytes, b -> Files.exists(Path.of(
                    "/sys/devices/system/memory/memory" + b + "/node" + node)))) {
                n++;
            }
        }
        return n;
    }

    private static Map<Long, Integer> byBlock(long[] pfns, long blockBytes) {
        Map<Long, Integer> m = new TreeMap<>();
        for (long pfn : pfns) {
            m.merge(pfn * PAGE / blockBytes, 1, Integer::sum);
        }
        return m;
    }

    private static int changed(long[] a, long[] b) {
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            n += a[i] != b[i] ? 1 : 0;
        }
        return n;
    }

    /** Pages of {@code a} in {@code block}. */
    private static int inBlock(long[] a, long block, long blockBytes) {
        int n = 0;
        for (long pfn : a) {
            n += pfn >= 0 && pfn * PAGE / blockBytes == block ? 1 : 0;
        }
        return n;
    }

    /** Pages of {@code a} in {@code block} that {@code b} finds present outside it (moved, not mid-migration). */
    private static int leftBlock(long[] a, long[] b, long block, long blockBytes) {
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            n += a[i] >= 0 && a[i] * PAGE / blockBytes == block && b[i] >= 0 && b[i] * PAGE / blockBytes != block
                    ? 1 : 0;
        }
        return n;
    }

    private static int changedIn(long[] a, long[] b, long block, long blockBytes) {
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            n += a[i] * PAGE / blockBytes == block && a[i] != b[i] ? 1 : 0;
        }
        return n;
    }

    private static long[] addressesOf(long base, int pages) {
        long[] a = new long[pages];
        for (int i = 0; i < pages; i++) {
            a[i] = base + i * PAGE;
        }
        return a;
    }

    /**
     * Starts this class in another JVM with {@code args}, its stdin a pipe from this process. The
     * child gets this JVM's own options, the AOT cache /init passes among them: a JVM started
     * without it spends seconds more under TCG.
     */
    private static Process startChild(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("/opt/jdk/bin/java"));
        for (String a : ProcessHandle.current().info().arguments().orElse(new String[0])) {
            if (a.equals("-m")) {
                break;
            }
            cmd.add(a);
        }
        if (cmd.size() == 1) {
            cmd.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xmx96m",
                    "--enable-native-access=io.kmem,io.kmem.vmtest"));
        }
        cmd.addAll(List.of("-m", "io.kmem.vmtest/io.kmem.vmtest.PinDriver"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /**
     * Waits for a child from {@link #startChild} (its stdin closed by the caller); echoes and
     * returns its output; fails on a non-zero exit. {@code t}: when its work was handed over.
     */
    private String finishChild(Process p, String name, long t) throws Exception {
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                System.out.println(line.startsWith("kmem-vmtest:") ? "kmem-vmtest:   [" + name + "] "
                        + line.substring(13) : "kmem-vmtest:   [" + name + "] " + line);
            }
        }
        check(rc == 0, "child '%s' exited %d after %d ms", name, rc, (System.nanoTime() - t) / 1_000_000);
        return out;
    }

    private static String grepMeminfo(String meminfo) {
        StringBuilder sb = new StringBuilder();
        String[] lines = meminfo.split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].startsWith("Pinning:") || lines[i].startsWith("PinnedLongTerm:")) {
                sb.append("kmem-vmtest:     ").append(lines[i]).append('\n');
                if (i + 1 < lines.length) {
                    sb.append("kmem-vmtest:     ").append(lines[i + 1]).append('\n');
                }
            }
        }
        return sb.toString().stripTrailing();
    }

    private void check(boolean ok, String what, Object... args) {
        checks++;
        check0(ok, what, args);
    }

    private static void check0(boolean ok, String what, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(what, args));
        }
    }

    /** Prints a line, with the seconds since this JVM's driver started: where a slow run spends its time. */
    private static void say(String format, Object... args) {
        System.out.printf("kmem-vmtest: %s [%.1f s]%n", String.format(format, args), (System.nanoTime() - START) / 1e9);
        System.out.flush();
    }
}
