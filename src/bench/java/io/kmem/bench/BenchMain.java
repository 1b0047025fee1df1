package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.phys.HostInfo;
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
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.results.format.ResultFormatType;

/**
 * {@code make bench}: runs the JMH suite in one run, then prints the figures against their
 * targets and the ratios against the peers measured in the same run, and writes them to
 * {@code target/bench/} (summary.txt, jmh.json).
 *
 * <p>Arguments: an optional JMH include regex (default: every benchmark).
 */
public final class BenchMain {
    /** One line of the summary: a kmem figure, its target, and optionally a peer to compare with. */
    record Check(String what, String kmem, String peer, double target, String unit) {
    }

    static final List<Check> CHECKS = List.of(
            new Check("bring-up of a 1 GiB pool of 4 KiB frames", "BringUpBench.kmemPool1GiB",
                    "BringUpBench.anonMmapPopulateLocked1GiB", 500, "ms"));

    private BenchMain() {
    }

    public static void main(String[] args) throws RunnerException, IOException {
        Path dir = Path.of("target/bench");
        Files.createDirectories(dir);
        String include = args.length > 0 ? args[0] : "io.kmem.bench.*";
        Options opts = new OptionsBuilder().include(include)
                .resultFormat(ResultFormatType.JSON).result(dir.resolve("jmh.json").toString()).build();
        Collection<RunResult> results = new Runner(opts).run();
        Map<String, double[]> score = new HashMap<>();
        for (RunResult r : results) {
            String label = r.getParams().getBenchmark();
            label = label.substring(label.lastIndexOf('.', label.lastIndexOf('.') - 1) + 1);
            score.put(label, new double[] {r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError()});
        }
        List<String> lines = new ArrayList<>();
        HostInfo host = HostInfo.read();
        lines.add(String.format(Locale.ROOT, "kmem benchmarks, %s, %d cores, %d GiB RAM, %s", LocalDate.now(),
                Runtime.getRuntime().availableProcessors(), host.memTotalBytes() >> 30, cpuModel()));
        lines.add(String.format(Locale.ROOT, "%-44s %14s %14s %10s %8s %s", "figure", "kmem", "peer", "target",
                "ratio", "verdict"));
        for (Check c : CHECKS) {
            double[] k = score.get(c.kmem());
            if (k == null) {
                continue;
            }
            double[] p = c.peer() == null ? null : score.get(c.peer());
            String ratio = p == null ? "" : String.format(Locale.ROOT, "%.2fx", p[0] / k[0]);
            lines.add(String.format(Locale.ROOT, "%-44s %9.1f±%-4.1f%s %14s %7.0f %s %8s %s", c.what(), k[0], k[1],
                    c.unit(), p == null ? "" : String.format(Locale.ROOT, "%.1f %s", p[0], c.unit()), c.target(),
                    c.unit(), ratio, k[0] <= c.target() ? "meets target" : "MISSES target"));
            if (p != null) {
                lines.add("    peer: " + c.peer() + "; ratio = peer time / kmem time (above 1: kmem faster)");
            }
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
                    (pool.memMapBytes() + pool.pfnIndexBytes()) / frames));
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
