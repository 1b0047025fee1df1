package io.kmem.internal.report;

import io.kmem.internal.page.BuddyAllocator;
import io.kmem.gfp.FrameKind;
import io.kmem.internal.phys.FramePool;
import io.kmem.stats.HostInfo;
import io.kmem.internal.phys.MemMap;
import io.kmem.gfp.ZoneType;
import io.kmem.stats.VmallocStats;
import io.kmem.stats.ZoneStats;
import io.kmem.internal.vmalloc.Vmalloc;
import java.util.Locale;

/**
 * Reports on a pool's physical layer, in the shape of /proc/meminfo ({@code Key: value kB}),
 * each line followed by where its figure came from.
 */
public final class PhysReport {
    private PhysReport() {
    }

    /**
     * The /proc/meminfo-style summary: frames by source and zone, the direct map, the vmalloc
     * window ({@code vm}, or null to leave it out), the contiguity histogram, bring-up speed,
     * metadata cost and the host facts that matter.
     */
    public static String meminfo(FramePool pool, BuddyAllocator buddy, long bringUpNanos, long bringUpFrames,
                                 VmallocStats vm) {
        StringBuilder sb = new StringBuilder();
        HostInfo host = pool.host();
        sb.append("# kmem pool '").append(pool.name()).append("': ")
                .append(pool.physical() ? "physical frames (real PFNs)" : "unprivileged (frame index as PFN)")
                .append('\n');
        line(sb, "MemTotal", kb(pool.presentFrames()), "frames held: mem_map records with PG_present");
        long free = 0;
        long cached = 0;
        for (ZoneStats z : buddy.zoneStats()) {
            free += z.free();
            cached += z.cached();
        }
        line(sb, "MemFree", kb(free + cached), "buddy free lists (" + kb(free) + " kB) + per-thread page caches ("
                + kb(cached) + " kB)");
        for (FrameKind k : FrameKind.values()) {
            if (pool.hasSource(k)) {
                line(sb, "Frames" + switch (k) {
                    case SMALL_4K -> "4k";
                    case HUGE_2M -> "Huge2M";
                    case HUGE_1G -> "Huge1G";
                }, kb(pool.presentFrames(k)), k.label() + " memfd, populated and mlocked; max "
                        + (pool.maxFrames(k) * 4) + " kB");
            }
        }
        io.kmem.stats.PinState pin = pool.pinState();
        sb.append(String.format(Locale.ROOT, "%-16s %s%n", "Pinning:", pin.longTerm() ? "long-term" : "mlock only"));
        sb.append("  # ").append(pin.longTerm()
                ? "FOLL_LONGTERM pins (io_uring buffer registration): the kernel cannot migrate the frames"
                : pin.reason()).append('\n');
        line(sb, "PinnedLongTerm", pin.pinnedBytes() >> 10, "kB", "held by " + pin.rings() + " io_uring ring"
                + (pin.rings() == 1 ? "" : "s") + " (IORING_REGISTER_BUFFERS), kept open for the pool's life");
        for (ZoneType z : ZoneType.values()) {
            line(sb, "Zone" + z.procName(), kb(pool.presentFrames(z)),
                    pool.physical() ? "PFN < " + limitText(z) + " (pagemap PFN of each frame)"
                            : "unprivileged: every frame counts as Normal");
        }
        if (pool.dmaMask() >= 0) {
            sb.append(String.format(Locale.ROOT, "%-16s 0x%x%n", "DmaMask:", pool.dmaMask()));
            sb.append("  # builder: only frames ending at or below the mask are kept\n");
        }
        line(sb, "DirectMapRuns", pool.directMapRuns(), "", "mmap calls that mapped runs of consecutive PFNs"
                + " and memfd offsets into the direct map");
        long[] meta = pool.metadataBytes();
        long frames = Math.max(1, pool.presentFrames());
        line(sb, "MemMap", meta[0] / 1024, "kB", String.format(Locale.ROOT,
                "%.2f bytes/frame resident (mincore of the mem_map segment; %d-byte records; kernel struct page: 64)",
                (double) meta[0] / frames, MemMap.RECORD_BYTES));
        line(sb, "PfnIndex", meta[1] / 1024, "kB", String.format(Locale.ROOT,
                "%.2f bytes/frame (PFN -> frame index, sections of 512 PFNs)", (double) meta[1] / frames));
        if (vm != null) {
            line(sb, "VmallocTotal", vm.windowBytes() / 1024, "kB", "the vmalloc window (PROT_NONE reservation)");
            line(sb, "VmallocUsed", vm.pagesMapped() * 4, "kB", vm.areas() + " areas (vmalloc, vmap), "
                    + vm.pagesMapped() + " pages mapped");
            line(sb, "VmallocChunk", vm.largestFreeBytes() / 1024, "kB", "largest free range of the window");
            line(sb, "VmallocMapsFree", vm.mapsFree(), "", "process mappings vmalloc may still take: vm.max_map_count "
                    + vm.maxMapCount() + " less a share left to the JVM and the mappings the process holds (an area"
                    + " takes one per run of frames); then root raises the limit, others get NULL");
        }
        double ms = bringUpNanos / 1e6;
        sb.append(String.format(Locale.ROOT, "%-16s %d frames in %.1f ms = %.0f frames/s (%.2f GiB/s)%n",
                "BringUp:", bringUpFrames, ms, bringUpFrames * 1e9 / Math.max(1, bringUpNanos),
                bringUpFrames * 4096.0 / (1L << 30) * 1e9 / Math.max(1, bringUpNanos)));
        sb.append("  # System.nanoTime around memfd mmap, mlock, long-term pin, pagemap pread, mem_map and direct map\n");
        sb.append("\n# Physically contiguous runs (consecutive PFNs), by length in 4 KiB frames\n");
        long[] hist = pool.contiguityHistogram();
        long max = 1;
        for (long h : hist) {
            max = Math.max(max, h);
        }
        for (int k = 0; k < hist.length; k++) {
            if (hist[k] == 0) {
                continue;
            }
            long lo = 1L << k;
            String range = lo == 1 ? "1" : lo + "-" + (2 * lo - 1);
            int bar = (int) Math.max(1, hist[k] * 40 / max);
            sb.append(String.format(Locale.ROOT, "  %11s %8d %s%n", range, hist[k], "#".repeat(bar)));
        }
        sb.append("  # runs of each length among the pool's sorted PFNs; a buddy block of order n needs a run of 2^n\n");
        sb.append("\n# Host\n");
        sb.append(String.format(Locale.ROOT, "%-16s %s%n", "CapSysAdmin:", host.capSysAdmin() ? "yes" : "no"));
        sb.append("  # CapEff bit 21 in /proc/self/status: needed for real PFNs in pagemap\n");
        sb.append(String.format(Locale.ROOT, "%-16s %d%n", "CompactUnevict:", host.compactUnevictable()));
        sb.append("  # /proc/sys/vm/compact_unevictable_allowed: ").append(host.pinningNote()).append('\n');
        sb.append(String.format(Locale.ROOT, "%-16s %d reserved, %d free%n", "Hugepages2M:", host.hugepages2m(),
                host.freeHugepages2m()));
        sb.append(String.format(Locale.ROOT, "%-16s %d reserved, %d free%n", "Hugepages1G:", host.hugepages1g(),
                host.freeHugepages1g()));
        sb.append("  # /sys/kernel/mm/hugepages/hugepages-*/{nr,free}_hugepages (read at pool creation)\n");
        sb.append(String.format(Locale.ROOT, "%-16s %s%n", "ShmemThp:", host.shmemThp()));
        sb.append("  # ").append(HostInfo.SHMEM_THP).append(": ").append(host.shmemThpNote()).append('\n');
        sb.append(String.format(Locale.ROOT, "%-16s 0x%x-0x%x%n", "HostPfnSpan:", host.minPfn(), host.limitPfn()));
        sb.append("  # /proc/zoneinfo start_pfn + spanned; the direct map reserves this span (PROT_NONE)\n");
        return sb.toString();
    }

    private static String limitText(ZoneType z) {
        return switch (z) {
            case DMA -> "16 MiB";
            case DMA32 -> "4 GiB";
            case NORMAL -> "any";
        };
    }

    private static long kb(long frames) {
        return frames * 4;
    }

    private static void line(StringBuilder sb, String key, long kb, String source) {
        line(sb, key, kb, "kB", source);
    }

    private static void line(StringBuilder sb, String key, long value, String unit, String source) {
        sb.append(String.format(Locale.ROOT, "%-16s %8d %s%n", key + ":", value, unit));
        sb.append("  # ").append(source).append('\n');
    }
}
