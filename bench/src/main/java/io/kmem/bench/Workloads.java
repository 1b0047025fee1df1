package io.kmem.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The workload suite's table in {@link BenchMain}'s summary: for each workload the time per
 * alloc + free pair of kmem and of each peer measured in the same run, the ratio of the best
 * peer's time to kmem's (above 1: kmem faster), kmem's Java heap bytes per operation, and the
 * targets of issue 20.
 */
final class Workloads {
    static final String[] PEERS = {"mimalloc", "glibc", "netty"};

    /** A row: its label, the benchmark key before the allocator, the key after it ("" or "/size"), a target in ns (NaN: none). */
    record Row(String what, String bench, String suffix, double target, String targetText) {
    }

    private Workloads() {
    }

    static List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("hot pair, 64 B", "WorkloadBench.hot64", "", 10, "<= 10 ns"));
        for (int size : new int[] {64, 256, 1024, 4096}) {
            rows.add(new Row("batch of 10,000 x " + size + " B", "BatchBench.batch", "/" + size, Double.NaN,
                    "<= 2x hot pair"));
        }
        rows.add(new Row("ring, live 4096, 64..2048 B", "WorkloadBench.ring", "", Double.NaN, ""));
        rows.add(new Row("random, live 10,000, 16 B..8 KiB", "WorkloadBench.random", "", Double.NaN, ""));
        rows.add(new Row("producer/consumer, 64 B", "HandoffBench.pc", "/64", Double.NaN, ""));
        rows.add(new Row("producer/consumer, 2048 B", "HandoffBench.pc", "/2048", Double.NaN, ""));
        rows.add(new Row("bulk 32 x 64 B, per object", "BulkBench.bulk", "", 5, "<= 5 ns"));
        rows.add(new Row("page hot pair, order 0", "PagesBench.order0Hot", "", 20, "<= 20 ns"));
        rows.add(new Row("pages: 4096 x order 0, batch", "PagesBench.order0Batch", "", 25, "<= 25 ns"));
        rows.add(new Row("pages: 1024 of orders 0..3, batch", "PagesBench.mixedBatch", "", Double.NaN, ""));
        return rows;
    }

    static List<String> table(Map<String, double[]> score, Map<String, Double> allocs) {
        List<String> out = new ArrayList<>();
        List<Row> rows = rows().stream().filter(r -> score.containsKey(r.bench() + "/kmem" + r.suffix())).toList();
        if (rows.isEmpty()) {
            return out;
        }
        out.add("");
        out.add("workload suite: ns per alloc + free pair, one thread unless said (pages: mimalloc/glibc by"
                + " 4 KiB-aligned aligned_alloc); ratio = best peer / kmem (above 1: kmem faster)");
        out.add(String.format(Locale.ROOT, "%-36s %10s %10s %10s %10s %12s %10s %16s %s", "workload", "kmem", "mimalloc",
                "glibc", "netty", "ratio", "alloc B/op", "target", "verdict"));
        double[] hot = score.get("WorkloadBench.hot64/kmem");
        for (Row r : rows) {
            double[] k = score.get(r.bench() + "/kmem" + r.suffix());
            double best = Double.POSITIVE_INFINITY;
            String bestName = "";
            String[] cols = new String[PEERS.length];
            for (int i = 0; i < PEERS.length; i++) {
                double[] p = score.get(r.bench() + "/" + PEERS[i] + r.suffix());
                cols[i] = p == null ? "-" : String.format(Locale.ROOT, "%.1f", p[0]);
                if (p != null && p[0] < best) {
                    best = p[0];
                    bestName = PEERS[i];
                }
            }
            double ratio = best / k[0];
            boolean meets = Double.isInfinite(best) || ratio >= 1.0;
            String target = r.targetText().isEmpty() ? ">= 1.0x" : r.targetText() + ", >= 1.0x";
            if (!Double.isNaN(r.target())) {
                meets &= k[0] <= r.target();
            } else if (r.bench().equals("BatchBench.batch") && hot != null) {
                meets &= k[0] <= 2 * hot[0];
            }
            out.add(String.format(Locale.ROOT, "%-36s %10s %10s %10s %10s %12s %10s %16s %s", r.what(),
                    String.format(Locale.ROOT, "%.1f±%.1f", k[0], k[1]), cols[0], cols[1], cols[2],
                    Double.isInfinite(best) ? "-" : String.format(Locale.ROOT, "%.2fx %s", ratio, bestName),
                    bytes(allocs.get(r.bench() + "/kmem" + r.suffix())), target, meets ? "meets" : "MISSES"));
        }
        return out;
    }

    private static String bytes(Double b) {
        return b == null ? "" : String.format(Locale.ROOT, "%.3f", b);
    }
}
