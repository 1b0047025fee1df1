package io.kmem.cli;

import io.kmem.Kernel;
import io.kmem.MemoryPool;
import io.kmem.error.KmemException;
import io.kmem.phys.FramePool;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The {@code kmem} command-line tool. {@code make run} runs {@code kmem tour}.
 *
 * <pre>
 *   kmem tour              walk through the pool: frames, physical addresses, reports
 *   kmem info [--mib N]    /proc-style reports of a pool
 *   kmem verify [--mib N]  re-read pagemap for every frame; non-zero exit if any moved
 *   kmem help [COMMAND]
 * </pre>
 */
public final class Main {
    private static final Map<String, String> HELP = Map.of(
            "tour", "kmem tour [--mib N] [--unprivileged]\n"
                    + "  Builds the default pool (64 MiB of 4 KiB frames, plus 2 MiB hugetlb frames when reserved),\n"
                    + "  shows real virtual and physical addresses, checks them against /proc/self/pagemap, allocates\n"
                    + "  blocks of several orders from the buddy allocator (each checked page by page), frees them,\n"
                    + "  kmallocs objects of several sizes (cache, address, contiguity), makes a kmem_cache with a\n"
                    + "  constructor, and prints /proc/buddyinfo, /proc/slabinfo and the meminfo-style summary.",
            "info", "kmem info [--mib N] [--unprivileged]\n"
                    + "  Prints the pool's /proc/meminfo-style report: frames by source and zone, direct map runs,\n"
                    + "  metadata bytes per frame, bring-up speed, contiguity histogram, host facts; then\n"
                    + "  /proc/buddyinfo, a /proc/zoneinfo-style view (watermarks, per-thread page caches) and\n"
                    + "  /proc/slabinfo (version 2.1) and /proc/vmallocinfo.",
            "verify", "kmem verify [--mib N] [--unprivileged]\n"
                    + "  Builds a pool, re-reads pagemap for every frame and lists any frame whose PFN changed.\n"
                    + "  Exits 1 if any did.");

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.println("kmem: missing command; try 'kmem help'");
            return 2;
        }
        String command = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        Map<String, Function<Options, Integer>> commands = Map.of(
                "tour", o -> Tour.run(o.builder(), out),
                "info", o -> info(o, out),
                "verify", o -> verify(o, out));
        if (command.equals("help") || command.equals("--help") || command.equals("-h")) {
            if (rest.length > 0 && HELP.containsKey(rest[0])) {
                out.println(HELP.get(rest[0]));
            } else {
                out.println("kmem: the Linux kernel's memory allocators for Java drivers, over pinned physical frames\n");
                out.println("usage: kmem COMMAND [OPTIONS]\n");
                for (String c : new String[] {"tour", "info", "verify"}) {
                    out.println(HELP.get(c));
                    out.println();
                }
                out.println("Physical addresses need root (CAP_SYS_ADMIN for /proc/self/pagemap); --unprivileged runs"
                        + " without them.");
            }
            return 0;
        }
        Function<Options, Integer> cmd = commands.get(command);
        if (cmd == null) {
            err.println("kmem: unknown command '" + command + "'; commands: tour, info, verify, help");
            return 2;
        }
        Options options;
        try {
            options = Options.parse(command, rest);
        } catch (IllegalArgumentException e) {
            err.println("kmem " + command + ": " + e.getMessage());
            err.println(HELP.get(command));
            return 2;
        }
        try {
            return cmd.apply(options);
        } catch (KmemException e) {
            err.println("kmem " + command + ": " + e.getMessage());
            return 1;
        }
    }

    private static int info(Options o, PrintStream out) {
        try (MemoryPool pool = o.builder().build()) {
            out.print(pool.meminfo());
            out.println("\n# /proc/buddyinfo: free blocks of order 0..10 per zone");
            out.print(pool.buddyinfo());
            out.println("\n# zoneinfo: free frames, watermarks, managed frames, per-thread page caches");
            out.print(pool.zoneinfo());
            out.println("\n# /proc/slabinfo");
            out.print(pool.slabinfo());
            out.println("\n# /proc/vmallocinfo (areas of the pool's vmalloc window; none until something is mapped)");
            out.print(pool.vmallocinfo());
        }
        return 0;
    }

    private static int verify(Options o, PrintStream out) {
        try (MemoryPool pool = o.builder().build()) {
            FramePool.Verification v = pool.verify();
            out.printf(Locale.ROOT, "verify: %d frames re-read from /proc/self/pagemap in %.1f ms: %s%n",
                    v.framesChecked(), v.nanos() / 1e6, v.ok() ? "all at their recorded PFN" : v.moved().size() + " moved");
            v.moved().stream().limit(20).forEach(m -> out.println("  " + m));
            out.println("  " + pool.host().pinningNote());
            return v.ok() ? 0 : 1;
        }
    }

    /** Options shared by the pool-building commands. */
    record Options(long mib, boolean unprivileged) {
        static Options parse(String command, String[] args) {
            long mib = -1;
            boolean unpriv = false;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--mib" -> {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException("--mib needs a number of MiB");
                        }
                        try {
                            mib = Long.parseLong(args[++i]);
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--mib expects a whole number of MiB, got '" + args[i] + "'");
                        }
                        if (mib <= 0 || mib > (1L << 20)) {
                            throw new IllegalArgumentException("--mib expects 1 to 1048576, got " + mib);
                        }
                    }
                    case "--unprivileged" -> unpriv = true;
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                }
            }
            return new Options(mib, unpriv);
        }

        MemoryPool.Builder builder() {
            MemoryPool.Builder b = Kernel.defaultBuilder();
            if (mib > 0) {
                b.smallPages(mib << 20).maxSmallPages(Math.max(mib << 20, 64L << 20));
            }
            if (unprivileged) {
                b.unprivileged();
            }
            return b;
        }
    }
}
