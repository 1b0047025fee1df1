package io.kmem.stats;

import io.kmem.gfp.FrameKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What the host says about itself, read from procfs and sysfs: the physical frame range,
 * privileges, hugepage reserves and the sysctls that decide whether mlocked pages can move.
 * Every figure carries the file it came from, so that reports can say where it came from.
 *
 * @param minPfn              lowest PFN of any zone ({@code /proc/zoneinfo} start_pfn)
 * @param limitPfn            one past the highest PFN of any zone (start_pfn + spanned)
 * @param memTotalBytes       {@code MemTotal} of {@code /proc/meminfo}
 * @param capSysAdmin         CAP_SYS_ADMIN in {@code CapEff} of {@code /proc/self/status}
 * @param compactUnevictable  {@code vm.compact_unevictable_allowed}: 1 lets compaction
 *                            migrate mlocked 4 KiB pages, so their PFNs can change
 * @param maxMapCount         {@code vm.max_map_count}: the direct map needs one mapping per run
 * @param hugepages2m         2 MiB hugepages reserved ({@code nr_hugepages})
 * @param freeHugepages2m     2 MiB hugepages free
 * @param hugepages1g         1 GiB hugepages reserved
 * @param freeHugepages1g     1 GiB hugepages free
 * @param shmemThp            the selected mode of
 *                            {@code /sys/kernel/mm/transparent_hugepage/shmem_enabled}
 *                            ("advise" lets 4 KiB-frame pools come in 2 MiB-contiguous folios)
 */
public record HostInfo(long minPfn, long limitPfn, long memTotalBytes, boolean capSysAdmin,
                       int compactUnevictable, long maxMapCount,
                       long hugepages2m, long freeHugepages2m, long hugepages1g, long freeHugepages1g,
                       String shmemThp) {

    /** Where the zones' PFN ranges are read. */
    public static final String ZONEINFO = "/proc/zoneinfo";
    /** The sysfs directory of the 2 MiB hugepage pool ({@code nr_hugepages}, {@code free_hugepages}). */
    public static final String HUGE_2M = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
    /** The sysfs directory of the 1 GiB hugepage pool. */
    public static final String HUGE_1G = "/sys/kernel/mm/hugepages/hugepages-1048576kB/";
    static final String COMPACT_UNEVICTABLE = "/proc/sys/vm/compact_unevictable_allowed";
    static final int CAP_SYS_ADMIN = 21;
    /** The shmem transparent hugepage selector. */
    public static final String SHMEM_THP = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";

    /**
     * Reads the host's facts now.
     *
     * @return the facts; an absent sysctl or sysfs file gives a default (0 hugepages, "absent")
     * @throws java.io.UncheckedIOException when {@code /proc/zoneinfo}, {@code /proc/meminfo} or
     *         {@code /proc/self/status} cannot be read
     * @throws IllegalStateException when {@code /proc/zoneinfo} shows no zone with pages
     */
    public static HostInfo read() {
        long min = Long.MAX_VALUE;
        long limit = 0;
        long start = -1;
        long spanned = 0;
        for (String line : lines(ZONEINFO)) {
            String t = line.strip();
            if (t.startsWith("Node ")) {
                start = -1;
                spanned = 0;
            } else if (t.startsWith("spanned")) {
                spanned = Long.parseLong(t.substring("spanned".length()).strip());
            } else if (t.startsWith("start_pfn:")) {
                start = Long.parseLong(t.substring("start_pfn:".length()).strip());
                if (spanned > 0) {
                    min = Math.min(min, start);
                    limit = Math.max(limit, start + spanned);
                }
            }
        }
        if (limit == 0) {
            throw new IllegalStateException("no zone with spanned pages in " + ZONEINFO);
        }
        long capEff = 0;
        for (String line : lines("/proc/self/status")) {
            if (line.startsWith("CapEff:")) {
                capEff = Long.parseUnsignedLong(line.substring(7).strip(), 16);
            }
        }
        long memTotal = 0;
        for (String line : lines("/proc/meminfo")) {
            if (line.startsWith("MemTotal:")) {
                memTotal = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return new HostInfo(min, limit, memTotal, (capEff >>> CAP_SYS_ADMIN & 1) != 0,
                (int) number(COMPACT_UNEVICTABLE, 0), number("/proc/sys/vm/max_map_count", 65530),
                number(HUGE_2M + "nr_hugepages", 0), number(HUGE_2M + "free_hugepages", 0),
                number(HUGE_1G + "nr_hugepages", 0), number(HUGE_1G + "free_hugepages", 0), selected(SHMEM_THP));
    }

    /**
     * Free hugepages of the given size in bytes (2 MiB or 1 GiB); 0 for other sizes.
     *
     * @param pageSize the hugepage size in bytes, as {@link FrameKind#pageSize()}
     * @return the free hugepages of that size, 0 for any other size
     */
    public long freeHugepages(long pageSize) {
        return pageSize == FrameKind.HUGE_2M.pageSize() ? freeHugepages2m
                : pageSize == FrameKind.HUGE_1G.pageSize() ? freeHugepages1g : 0;
    }

    /**
     * One sentence on pinning, for reports: can the kernel move this pool's 4 KiB frames?
     *
     * @return the sentence, with the fix when they can move
     */
    public String pinningNote() {
        return compactUnevictable == 1
                ? "vm.compact_unevictable_allowed=1: compaction may migrate mlocked 4 KiB frames"
                  + " (verify() detects it); set it to 0 or use hugetlb frames to keep PFNs fixed"
                : "vm.compact_unevictable_allowed=0: mlocked 4 KiB frames are not migrated by compaction";
    }

    /** The bracketed choice of a sysfs selector such as "always [advise] never", or "absent". */
    static String selected(String file) {
        try {
            String text = Files.readString(Path.of(file));
            int a = text.indexOf('[');
            int b = text.indexOf(']');
            return a >= 0 && b > a ? text.substring(a + 1, b) : text.strip();
        } catch (IOException e) {
            return "absent";
        }
    }

    /**
     * One sentence on shmem THP for reports.
     *
     * @return the sentence, with the fix when 4 KiB frames come scattered
     */
    public String shmemThpNote() {
        return switch (shmemThp) {
            case "advise", "always", "within_size", "force" -> "shmem_enabled=" + shmemThp
                    + ": 4 KiB frames come in 2 MiB-contiguous folios where the kernel finds them";
            default -> "shmem_enabled=" + shmemThp + ": 4 KiB frames come scattered; set it to advise"
                    + " (echo advise > " + SHMEM_THP + ") for 2 MiB-contiguous runs and fast bring-up";
        };
    }

    private static List<String> lines(String file) {
        try {
            return Files.readAllLines(Path.of(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * A number from a procfs or sysfs file, read in one {@code read} call: sysctl files
     * ({@code proc_dointvec}) answer EOF to any read at a non-zero offset, so a reader that
     * takes a few bytes first sees "6" for 65530.
     */
    static long number(String file, long otherwise) {
        try (var in = Files.newInputStream(Path.of(file))) {
            byte[] buf = new byte[128];
            int n = in.read(buf);
            return n <= 0 ? otherwise : Long.parseLong(new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII).strip());
        } catch (IOException | NumberFormatException e) {
            return otherwise;
        }
    }
}
