package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.stats.HostInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.results.format.ResultFormatType;

/**
 * {@code make bench}: runs the JMH suite in one run, then prints the figures against their
 * targets and the ratios against the peers measured in the same run, and writes them to
 * {@code target/bench/} (summary.txt, jmh.json). Every benchmark runs under JMH's GC profiler
 * ({@code -prof gc}); the summary's "alloc B/op" is its {@code gc.alloc.rate.norm}, the Java
 * heap allocated per operation (0 on an allocation-free fast path).
 *
 * <p>Arguments: an optional JMH include regex (default: every benchmark).
 */
public final class BenchMain {
    /**
     * A peer measured in the same run, and the least ratio (peer time / kmem time) to meet; 0
     * for none.
     */
    record Peer(String bench, double minRatio) {
    }

    /**
     * One line of the summary: a kmem figure, its target (NaN: a figure without one), and the
     * peers to compare it with (none, one, or more: each further peer gets a line of its own
     * under the figure's).
     */
    record Check(String what, String kmem, double target, String unit, List<Peer> peers) {
        Check(String what, String kmem, String peer, double target, String unit, double minRatio) {
            this(what, kmem, target, unit, peer == null ? List.of() : List.of(new Peer(peer, minRatio)));
        }

        Check(String what, String kmem, String peer, double target, String unit) {
            this(what, kmem, peer, target, unit, 0);
        }
    }

    /** One line of the summary: time per operation on n threads against one, and the largest ratio to meet. */
    record Scaling(String what, String many, String one, double maxRatio, String unit) {
    }

    static final List<Check> CHECKS = List.of(
            new Check("bring-up of a 1 GiB pool of 4 KiB frames", "BringUpBench.kmemPool1GiB",
                    "BringUpBench.anonMmapPopulateLocked1GiB", 500, "ms"),
            new Check("order-0 __get_free_page + free_page, 1 thread", "PageAllocBench.order0Pair",
                    "PageAllocBench.mmapMunmapPage", 20, "ns", 50),
            new Check("order-9 __get_free_pages + free_pages, 2M hugetlb", "PageAllocBench.order9PairHuge", null,
                    100, "ns"),
            new Check("kmalloc(64) + kfree, 1 thread", "SlabBench.kmalloc64Pair", 10, "ns",
                    // glibc's pair is a figure only: the 2.5x target of the first wave was withdrawn
                    // (issue 20: the per-object checks stay; README, "What the atomic free claim costs").
                    List.of(new Peer("SlabBench.nettyDirect64Pair", 5), new Peer("SlabBench.mallocFree64Pair", 0))),
            new Check("vmalloc(1 MiB) + vfree, 1 thread", "VmallocBench.vmalloc1MiBPair",
                    "VmallocBench.mmapPopulateLocked1MiBPair", 60, "us", 1),
            new Check("vmalloc(16 KiB) + vfree, per page", "VmallocBench.vmalloc16KiBPerPage", null, Double.NaN, "ns"),
            new Check("vmalloc(64 MiB) + vfree, per page", "VmallocBench.vmalloc64MiBPerPage", null, Double.NaN, "ns"),
            new Check("readl (acquire), memfd stand-in, 1 thread", "MmioBench.readl", "MmioBench.ffmGetAcquire", 5,
                    "ns"),
            new Check("writel (release), memfd stand-in, 1 thread", "MmioBench.writel", "MmioBench.ffmSetRelease", 5,
                    "ns"),
            new Check("readl_relaxed (opaque), memfd stand-in, 1 thread", "MmioBench.readlRelaxed",
                    "MmioBench.ffmGetOpaque", 5, "ns"),
            new Check("writel_relaxed (opaque), memfd stand-in, 1 thread", "MmioBench.writelRelaxed", null, 5, "ns"),
            new Check("IOVA alloc + free (2 KiB, 28-bit mask), 1 thread", "IovaBench.allocFreePair", null, 50, "ns"));

    static final List<Scaling> SCALING = List.of(
            new Scaling("order-0 pair, 2 threads on one pool, per op", "PageAllocBench.order0Pair2Threads",
                    "PageAllocBench.order0Pair", 1.3, "ns"),
            new Scaling("kmem_cache_alloc + free, 2 threads, per op", "SlabBench.kmemCachePair2Threads",
                    "SlabBench.kmemCachePair", 1.3, "ns"));

    private BenchMain() {
    }

    public static void main(String[] args) throws RunnerException, IOException {
        Path dir = Path.of("target/bench");
        Files.createDirectories(dir);
        String include = args.length > 0 ? args[0] : "io.kmem.bench.*";
        String loadBefore = loadAverage();
        // One fork each, 2 warm-up and 3 measured iterations of 0.5 s (the annotations ask for
        // more): the whole suite, about 70 benchmark runs, stays under about 10 minutes on 2
        // cores. -Dkmem.bench.forks=N and -Dkmem.bench.iterationMs=T ask for more.
        TimeValue iteration = TimeValue.milliseconds(Integer.getInteger("kmem.bench.iterationMs", 500));
        Options opts = new OptionsBuilder().include(include).addProfiler(GCProfiler.class)
                .forks(Integer.getInteger("kmem.bench.forks", 1))
                .warmupIterations(2).warmupTime(iteration).measurementIterations(3).measurementTime(iteration)
                .resultFormat(ResultFormatType.JSON).result(dir.resolve("jmh.json").toString()).build();
        Collection<RunResult> results = new Runner(opts).run();
        Map<String, double[]> score = new HashMap<>();
        Map<String, Double> allocs = new HashMap<>();
        for (RunResult r : results) {
            String label = r.getParams().getBenchmark();
            label = label.substring(label.lastIndexOf('.', label.lastIndexOf('.') - 1) + 1);
            for (String key : r.getParams().getParamsKeys()) {
                label += "/" + r.getParams().getParam(key);
            }
            Result<?> primary = r.getSecondaryResults().getOrDefault("producer", r.getPrimaryResult());
            score.put(label, new double[] {primary.getScore(), primary.getScoreError()});
            Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            if (alloc != null) {
                allocs.put(label, alloc.getScore());
            }
        }
        List<String> lines = new ArrayList<>();
        HostInfo host = HostInfo.read();
        lines.add(String.format(Locale.ROOT, "kmem benchmarks, %s, %d cores, %d GiB RAM, %s", LocalDate.now(),
                Runtime.getRuntime().availableProcessors(), host.memTotalBytes() >> 30, cpuModel()));
        lines.add("load average (1, 5, 15 min) at the start: " + loadBefore + "; at the end: " + loadAverage());
        lines.add(String.format(Locale.ROOT, "%-50s %16s %14s %10s %8s %11s %s", "figure", "kmem", "peer", "target",
                "ratio", "alloc B/op", "verdict"));
        for (Check c : CHECKS) {
            double[] k = score.get(c.kmem());
            if (k == null) {
                continue;
            }
            // The figure's line carries the first peer measured (its verdict: target and that
            // ratio); each further peer gets a line of its own ("  same figure, vs ..."), with
            // the ratio and the verdict of that peer alone.
            List<Peer> peers = c.peers().stream().filter(pe -> score.containsKey(pe.bench())).toList();
            for (int i = 0; i < Math.max(1, peers.size()); i++) {
                Peer pe = peers.isEmpty() ? null : peers.get(i);
                double[] p = pe == null ? null : score.get(pe.bench());
                String ratio = p == null ? "" : String.format(Locale.ROOT, "%.2fx", p[0] / k[0]);
                boolean ratioMet = p == null || p[0] / k[0] >= pe.minRatio();
                String peerTime = p == null ? "" : String.format(Locale.ROOT, "%.1f %s", p[0], c.unit());
                if (i == 0 && Double.isNaN(c.target())) {
                    lines.add(String.format(Locale.ROOT, "%-50s %16s %14s %10s %8s %11s %s", c.what(),
                            figure(k, c.unit()), peerTime, "-", ratio, bytes(allocs.get(c.kmem())), "figure only"));
                } else if (i == 0) {
                    boolean meets = k[0] <= c.target() && ratioMet;
                    lines.add(String.format(Locale.ROOT, "%-50s %16s %14s %7.0f %s %8s %11s %s", c.what(),
                            figure(k, c.unit()), peerTime, c.target(), c.unit(), ratio, bytes(allocs.get(c.kmem())),
                            meets ? "meets target" : "MISSES target"));
                } else {
                    lines.add(String.format(Locale.ROOT, "%-50s %16s %14s %10s %8s %11s %s", "  same figure, vs "
                            + pe.bench().substring(pe.bench().indexOf('.') + 1), "", peerTime, "", ratio, "",
                            pe.minRatio() <= 0 ? "figure only" : ratioMet ? "meets target" : "MISSES target"));
                }
                if (pe != null) {
                    lines.add("    peer: " + pe.bench() + "; ratio = peer time / kmem time (above 1: kmem faster)"
                            + (pe.minRatio() > 0 ? "; target ratio >= " + number(pe.minRatio()) + "x" : ""));
                }
            }
        }
        for (Scaling c : SCALING) {
            double[] m = score.get(c.many());
            double[] o = score.get(c.one());
            if (m == null || o == null) {
                continue;
            }
            double ratio = m[0] / o[0];
            lines.add(String.format(Locale.ROOT, "%-50s %16s %14s %10s %8s %11s %s", c.what(), figure(m, c.unit()),
                    String.format(Locale.ROOT, "%.1f %s", o[0], c.unit()),
                    String.format(Locale.ROOT, "<= %.2fx", c.maxRatio()), String.format(Locale.ROOT, "%.2fx", ratio),
                    bytes(allocs.get(c.many())), ratio <= c.maxRatio() ? "meets target" : "MISSES target"));
            lines.add("    vs: " + c.one() + "; ratio = time per op on " + c.many() + " / on " + c.one()
                    + " (1: no slow-down from the other thread)");
        }
        lines.addAll(Workloads.table(score, allocs));
        if (include.equals("io.kmem.bench.*") || "Fragmentation".matches(".*(" + include + ").*")
                || include.contains("Workload") || include.contains("Batch")) {
            lines.add("");
            lines.addAll(Fragmentation.report());
        }
        lines.addAll(metadataFigures());
        String text = String.join("\n", lines) + "\n";
        System.out.print("\n" + text);
        Files.writeString(dir.resolve("summary.txt"), text);
        System.out.println("written: target/bench/summary.txt, target/bench/jmh.json");
    }

    /** Metadata bytes per frame of a 1 GiB pool: measured (mincore of mem_map), not computed. */
    static List<String> metadataFigures() {
        try (MemoryPool pool = MemoryPool.builder().name("bench-meta").smallPages(1L << 30).build()) {
            double frames = pool.frames();
            return List.of(String.format(Locale.ROOT,
                    "metadata per 4 KiB frame, 1 GiB pool: mem_map %.2f B (resident, by mincore; target <= 16,"
                    + " kernel struct page 64) + PFN index %.2f B = %.2f B",
                    pool.memMapBytes() / frames, pool.pfnIndexBytes() / frames,
                    (pool.memMapBytes() + pool.pfnIndexBytes()) / frames),
                    String.format(Locale.ROOT, "  and on the Java heap, kfree's frame-to-slab table: %.1f MiB (%.2f B per"
                    + " frame of this pool; a flat table covers the host's whole PFN range, whatever the pool's size)",
                    pool.slabTableBytes() / (double) (1 << 20), pool.slabTableBytes() / frames));
        }
    }

    /** A score with its error and unit: "36.5±8.1 ns". */
    private static String figure(double[] score, String unit) {
        return String.format(Locale.ROOT, "%.1f±%.1f %s", score[0], score[1], unit);
    }

    /** A ratio target as written: "5", "2.5". */
    private static String number(double x) {
        return x == Math.rint(x) ? String.format(Locale.ROOT, "%.0f", x) : String.format(Locale.ROOT, "%s", x);
    }

    /** gc.alloc.rate.norm (bytes allocated per operation, all threads), or blank without the GC profiler. */
    private static String bytes(Double b) {
        if (b == null) {
            return "";
        }
        return String.format(Locale.ROOT, b < 100 ? "%.3f" : "%.0f", b);
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + ", " + f[1] + ", " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String cpuModel() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) {
                    return l.substring(l.indexOf(':') + 1).strip();
                }
            }
        } catch (IOException e) {
            return "unknown CPU";
        }
        return "unknown CPU";
    }
}
