package io.kmem.tool;

import io.kmem.MemoryPool;
import io.kmem.stats.ZoneStats;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code kmem stress} (and {@code make soak}): the {@link Harness} on threads over one pool
 * for a time or a number of calls, with a progress line, a table of calls per kind, the
 * final verification line by line, and PASS or FAIL with each fault described.
 *
 * <p>Rounds run one after the other: in each, every thread makes a random burst of calls,
 * then the pool is checked while quiet ({@link Harness#round}). The first fault stops the
 * rounds; the final verification ({@link Harness#finish}) runs whatever happened. Any
 * exception from the allocators (a double free they see where there is none, a foreign
 * pointer ...) and any wrong byte is a fault.
 */
final class Stress {
    /** Objects up to this size have every word written and checked. */
    static final long FULL = 64 << 10;
    /** The longest burst of a thread: short rounds keep the checks frequent and the limits on time. */
    static final int BURST = 1000;

    /**
     * @param inject "corrupt" flips a byte of a live object halfway through, "leak" allocates
     *               two objects nobody frees; null for neither. Both must make the run fail.
     * @param strict a GFP_KERNEL NULL up to the costly order is a fault: the pool may grow to
     *               eight times its size, the live objects stay under half of its first size
     */
    record Config(int threads, long ops, long millis, long seed, String inject, boolean tty, boolean strict) {
    }

    private final Harness h;
    private final Config cfg;
    private final PrintStream out;
    private final List<String> faults = new ArrayList<>();

    private Stress(Harness h, Config cfg, PrintStream out) {
        this.h = h;
        this.cfg = cfg;
        this.out = out;
    }

    /** Runs the stress on a pool built from {@code builder}; returns the exit status (0: no fault). */
    static int run(MemoryPool.Builder builder, Config cfg, PrintStream out) {
        MemoryPool pool = builder.name("stress").build();
        Harness.Config hc = new Harness.Config(cfg.seed(), cfg.threads(), pool.frames() * Harness.PAGE / 2,
                Integer.MAX_VALUE, cfg.strict(), FULL, BURST);
        try (Harness h = new Harness(pool, hc)) {
            return new Stress(h, cfg, out).run();
        }
    }

    private int run() {
        MemoryPool pool = h.pool;
        out.printf(Locale.ROOT, "kmem stress: %d threads, up to %d ops or %.1f s, pool '%s' of %d frames (%d MiB)%s,"
                        + " seed %d%s%n", cfg.threads(), cfg.ops(), cfg.millis() / 1e3, pool.name(), pool.frames(),
                pool.frames() >> 8, pool.physical() ? "" : " (unprivileged)", cfg.seed(),
                cfg.strict() ? ", strict (GFP_KERNEL up to order 3 never NULL)" : "");
        long t0 = System.nanoTime();
        long deadline = t0 + cfg.millis() * 1_000_000L;
        Progress progress = new Progress(t0);
        boolean injected = cfg.inject() == null;
        String stopped = ", the --seconds limit";
        while (System.nanoTime() - deadline < 0) {
            if (h.calls() >= cfg.ops()) {
                stopped = ", the --ops limit";
                break;
            }
            if (!injected && (h.calls() >= cfg.ops() / 2 || System.nanoTime() - deadline >= -cfg.millis() * 500_000L)) {
                String what = h.inject(cfg.inject());
                if (what != null) {
                    out.println("injected: " + what);
                    injected = true;
                }
            }
            try {
                h.round();
            } catch (RuntimeException | AssertionError e) {
                faults.add((e instanceof AssertionError ? "" : "unexpected " + e.getClass().getSimpleName() + ": ")
                        + e.getMessage());
                stopped = ", at the first fault";
                break;
            }
            if (Thread.currentThread().isInterrupted()) {
                break;
            }
            progress.show(false);
        }
        progress.show(true);
        long nanos = System.nanoTime() - t0;
        long ops = h.calls();
        out.printf(Locale.ROOT, "stopped: %d ops in %.2f s (%s ops/s)%s%n", ops, nanos / 1e9,
                human(ops / Math.max(1e-9, nanos / 1e9)), stopped);
        printCounts();
        out.println("final verification:");
        faults.addAll(h.finish((what, result) -> out.printf(Locale.ROOT, "  %-62s %s%n", what, result)));
        if (faults.isEmpty()) {
            out.println("PASS: no fault");
            return 0;
        }
        out.println("FAIL: " + faults.size() + " fault" + (faults.size() == 1 ? "" : "s"));
        for (int n = 0; n < faults.size(); n++) {
            if (n == 20) {
                out.println("  ... " + (faults.size() - 20) + " more");
                break;
            }
            out.println("  " + (n + 1) + ". " + faults.get(n));
        }
        return 1;
    }

    private void printCounts() {
        long[][] sum = h.counts();
        out.printf(Locale.ROOT, "  %-34s %10s %8s %10s %12s%n", "operation (alloc / free)", "allocs", "NULL", "frees",
                "cross-thread");
        for (Harness.Kind k : Harness.Kind.values()) {
            if (k.alloc == null) {
                continue;
            }
            long[] c = sum[k.ordinal()];
            out.printf(Locale.ROOT, "  %-34s %10d %8d %10d %12d%n", k.alloc + " / " + k.free, c[Harness.ALLOCS],
                    c[Harness.NULLS], c[Harness.FREES], c[Harness.CROSS]);
        }
        var s = h.pool.pageStats();
        out.printf(Locale.ROOT, "  page allocator slow paths: %d growths (%d frames), %d harvests (%d hit), %d waits"
                + " (%.1f ms); %d NULL in all (vmalloc's opportunistic high-order tries included)%n", s.growths(),
                s.grownFrames(), s.harvests(), s.harvestHits(), s.waits(), s.waitNanos() / 1e6, s.failures());
    }

    static String human(double x) {
        return x >= 1e6 ? String.format(Locale.ROOT, "%.2fM", x / 1e6) : x >= 1e3
                ? String.format(Locale.ROOT, "%.0fk", x / 1e3) : String.format(Locale.ROOT, "%.0f", x);
    }

    // ================================================================== progress

    /** A bar redrawn in place on a terminal; a plain line a second otherwise. */
    private final class Progress {
        private final long t0;
        private long lastOps;
        private long lastNanos;

        Progress(long t0) {
            this.t0 = t0;
            this.lastNanos = t0;
        }

        void show(boolean last) {
            long now = System.nanoTime();
            if (!last && now - lastNanos < (cfg.tty() ? 90_000_000L : 990_000_000L)) {
                return;
            }
            long ops = h.calls();
            long free = 0;
            long managed = 0;
            for (ZoneStats z : h.pool.zoneStats()) {
                free += z.free() + z.cached();
                managed += z.managed();
            }
            double elapsed = (now - t0) / 1e9;
            double rate = (ops - lastOps) / Math.max(1e-9, (now - lastNanos) / 1e9);
            if (last) {
                rate = ops / Math.max(1e-9, elapsed);
            }
            lastOps = ops;
            lastNanos = now;
            double frac = Math.min(1, Math.max((double) ops / Math.max(1, cfg.ops()), elapsed * 1e3 / cfg.millis()));
            String figures = String.format(Locale.ROOT, "%3.0f%%  %7s ops/s  live %6d  frames %d/%d  %.1fs", frac * 100,
                    human(rate), h.live(), managed - free, managed, elapsed);
            if (cfg.tty()) {
                int width = 30;
                int fill = (int) Math.round(frac * width);
                out.print("\r[" + "#".repeat(fill) + "-".repeat(width - fill) + "] " + figures + "\033[K"
                        + (last ? "\n" : ""));
                out.flush();
            } else if (!last) {
                out.println("progress: " + figures);
            }
        }
    }
}
