package io.kmem.tool;

import io.kmem.MemoryPool;
import io.kmem.stats.HostInfo;
import io.kmem.stats.KmemPoolMXBean;
import io.kmem.error.KmemException;
import io.kmem.stats.FrameVerification;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code kmem} command-line tool. {@code make run} runs {@code kmem tour}.
 *
 * <pre>
 *   kmem tour                  walk through the allocators with real addresses, checked against pagemap
 *   kmem info                  /proc-style reports of a pool, after a workload
 *   kmem info --pid PID        the same reports of every pool of a running JVM
 *   kmem top --pid PID         a running JVM's pools and slab caches, redrawn like top/slabtop
 *   kmem verify                re-read pagemap for every frame; non-zero exit if any moved
 *   kmem stress                random operations over every allocator on threads, then verify
 *   kmem map --out F.png|.svg  a picture of the pool's physical frames by owner
 *   kmem bench [REGEX]         the JMH suite and its table of ratios
 *   kmem help [COMMAND]
 * </pre>
 *
 * Exit status: 0 success; 1 the command ran and found something wrong (a fault, a moved
 * frame, a failed system call); 2 the command line is wrong or the command cannot run here.
 */
public final class Main {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    private static final String POOL_OPTIONS = """
              --mib N          the pool's 4 KiB frames, in MiB (default 64; with --unprivileged, what
                               fits half of RLIMIT_MEMLOCK if that is lower, at least 2)
              --huge-mib N     its 2 MiB hugetlb frames, in MiB, a multiple of 2 (default: as many as are
                               reserved and free, up to 64; 0 for none; none with --unprivileged)
              --unprivileged   no physical addresses: runs without root (PFNs are frame indices)""";

    /** One command: its name, a one-line summary, its options and its help text. */
    record Command(String name, String summary, Map<String, Boolean> options, int maxArgs, String help) {
        /** {@code options}: each option's name and whether it takes a value. */
        Command {
            options = Map.copyOf(options);
        }
    }

    static final Map<String, Command> COMMANDS = commands();

    private static Map<String, Command> commands() {
        Map<String, Boolean> pool = Map.of("--mib", true, "--huge-mib", true, "--unprivileged", false);
        Map<String, Command> c = new LinkedHashMap<>();
        c.put("tour", new Command("tour", "walk through the allocators with real addresses, checked against pagemap",
                pool, 0, """
                kmem tour [--mib N] [--huge-mib N] [--unprivileged]
                  Builds the default pool (64 MiB of 4 KiB frames, plus 2 MiB hugetlb frames when reserved),
                  shows real virtual and physical addresses and checks them against /proc/self/pagemap;
                  allocates blocks of several orders from the buddy allocator (each checked page by page),
                  kmallocs objects of several sizes (cache, address, contiguity), makes a kmem_cache with a
                  constructor, vmallocs an area and shows the frames behind it and its guard page; ioremaps
                  a memfd standing in for a device (readl/writel, memcpy_toio/fromio, its vmallocinfo line),
                  claims a made-up range with request_mem_region and shows an overlap refused; maps a buffer
                  for DMA under a 32-bit and a 64-bit mask, dma_alloc_coherent, a dma_pool (DMA needs physical
                  addresses: skipped, and said so, with --unprivileged); prints /proc/buddyinfo,
                  /proc/slabinfo, /proc/vmallocinfo, /proc/iomem and the meminfo-style summary.
                  Exit 1 if any address disagrees with pagemap or any check fails.
                """ + POOL_OPTIONS));
        Map<String, Boolean> info = new HashMap<>(pool);
        info.putAll(Map.of("--workload", true, "--pid", true, "--pool", true));
        c.put("info", new Command("info", "/proc-style reports of a pool, or of a running JVM's pools", info, 0, """
                kmem info [--mib N] [--huge-mib N] [--unprivileged] [--workload NAME]
                kmem info --pid PID [--pool NAME]
                  Prints the pool's /proc/meminfo-style report (frames by source and zone, direct map runs,
                  metadata bytes per frame, bring-up speed, contiguity histogram, host facts), then
                  /proc/buddyinfo, a /proc/zoneinfo-style view (watermarks, per-thread page caches),
                  /proc/slabinfo (version 2.1), /proc/vmallocinfo and /proc/iomem, in the kernel's own formats.
                  Without --pid, of a pool built here after a workload; with --pid, of every pool open in
                  that JVM (a driver running on kmem), read through the JDK's attach API and JMX
                  (MXBeans io.kmem:type=MemoryPool,name=...): run as the JVM's user or as root.
                  --pid PID    the JVM whose pools to print (jps -l lists Java processes)
                  --pool NAME  only the pool of that name
                """ + POOL_OPTIONS + "\n" + Workloads.HELP));
        c.put("top", new Command("top", "a running JVM's pools and slab caches, redrawn like top and slabtop",
                Map.of("--pid", true, "--pool", true, "--delay", true, "--iterations", true, "--batch", false), 0,
                """
                kmem top --pid PID [--pool NAME] [--delay S] [--iterations N] [--batch]
                  Watches the pools of a running JVM (through the JDK's attach API and JMX, as kmem info --pid):
                  clears the screen and redraws every S seconds, like top and slabtop: per pool its frames
                  (managed, free, cached in threads' page caches, used), the page allocator's failures,
                  growths and waits, vmalloc areas and pages, DMA buffers and live streaming mappings, misuses
                  detected, then slabtop's summary and its slab caches, largest first. Ctrl-C ends it.
                  --pid PID       the JVM to watch (jps -l lists Java processes); required
                  --pool NAME     only the pool of that name
                  --delay S       seconds between frames (default 3)
                  --iterations N  stop after N frames (default: run until interrupted)
                  --batch         no screen clearing: frames one after another, for a file or a pipe
                """));
        c.put("verify", new Command("verify", "re-read pagemap for every frame; exit 1 if any moved", pool, 0, """
                kmem verify [--mib N] [--huge-mib N] [--unprivileged]
                  Builds a pool, re-reads /proc/self/pagemap for every frame and lists any frame whose PFN
                  changed since it was pinned (the kernel migrated it). Exit 1 if any did.
                """ + POOL_OPTIONS));
        Map<String, Boolean> stress = new HashMap<>(pool);
        stress.putAll(Map.of("--threads", true, "--ops", true, "--seconds", true, "--seed", true, "--inject", true,
                "--strict", false));
        c.put("stress", new Command("stress", "random operations over every allocator on threads, then verify",
                stress, 0, """
                kmem stress [--threads N] [--ops M] [--seconds S] [--seed X] [--strict] [--mib N] [--huge-mib N]
                            [--unprivileged]
                  N threads (default 4) do random bursts of allocations and frees over every allocator of one
                  pool until M operations in all (default 2000000) or S seconds (default 10), whichever comes
                  first: __get_free_pages, alloc_pages and alloc_pages_exact of orders 0..10 under GFP_KERNEL,
                  GFP_ATOMIC, GFP_NOWAIT, __GFP_ZERO and __GFP_NORETRY; kmalloc of 1 byte to 1 MiB, kzalloc,
                  krealloc; kmem_cache_alloc/zalloc on three caches (one with red zones and poisoning);
                  vmalloc, vzalloc, vmalloc_user; vmap of 1 to 16 pages; kvmalloc and kvzalloc; dma_pool
                  blocks, coherent buffers and streaming mappings. A quarter of the frees hand the object to
                  another thread, which verifies and frees it. Every object carries a pattern of its own,
                  checked before it is freed; no two live objects may overlap; zeroed allocations are checked
                  for zeros, alignments and ksize are checked, one object in eight against pagemap. After
                  each round of bursts the allocators' own checks run and the caches' counters must equal
                  the model's. A progress bar on a terminal (a line a second otherwise): ops/s, live objects,
                  frames in use, elapsed time.
                  At the end: every live object's contents, pagemap against the allocator's PFNs for a sample
                  (page by page), then everything is freed and the counters must balance
                  (checkPageAllocator, validateSlabs, checkVmalloc, no SLUB report, free frames == managed).
                  Prints PASS, or FAIL with each fault described, and exits 1 on any fault.
                  --seed X          seeds each thread's choice of operations (default: from the clock)
                  --strict          a GFP_KERNEL NULL up to order 3 is a fault; the pool may grow to 8 times
                                    its size (make soak runs this)
                  --inject corrupt  (testing the tester) flip one byte of a live object halfway through
                  --inject leak     (testing the tester) allocate two objects halfway through, never freed
                """ + POOL_OPTIONS));
        Map<String, Boolean> map = new HashMap<>(pool);
        map.putAll(Map.of("--out", true, "--workload", true));
        c.put("map", new Command("map", "a picture of the pool's physical frames, coloured by owner", map, 0, """
                kmem map --out FILE.png|FILE.svg [--workload NAME] [--mib N] [--huge-mib N] [--unprivileged]
                  Builds a pool, runs a workload, and draws every frame of the pool in PFN order, coloured by
                  what owns it: free blocks by order (light to dark green), each slab cache, page allocator
                  blocks, large kmalloc, vmalloc, per-thread page caches, reserved frames; holes in the PFN
                  range are left out and labelled. One row is one 2 MiB stretch of physical memory (512
                  frames) for pools up to 256 MiB; larger pools aggregate 2, 4, 8 ... frames per cell (the
                  cell takes the most common owner). Zones are marked at the left of each row. The format
                  follows the file's extension: PNG, or SVG (each run of frames has a tooltip).
                """ + POOL_OPTIONS + "\n" + Workloads.HELP));
        c.put("bench", new Command("bench", "the JMH suite and its table of ratios against the peers",
                Map.of("--dir", true, "--print", false), 1, """
                kmem bench [REGEX] [--dir DIR] [--print]
                  Runs the JMH suite (bench/, io.kmem.bench.BenchMain) as `make bench` does: a new JVM on
                  bench/target/classes and the class path Maven wrote to bench/target/bench-classpath.txt,
                  in the kmem source tree DIR (default: the current directory).
                  REGEX picks benchmarks (JMH include pattern, e.g. SlabBench or 'PageAllocBench.order0.*';
                  default: all, which takes tens of minutes). At the end it prints the figures against their
                  targets and the ratios against the peers measured in the same run, and writes them to
                  target/bench/. `make run ARGS="bench REGEX"` builds the benchmarks first; with only the
                  jars, the bench classes are not there: kmem bench says so and exits 2.
                  --print  print the command it would run, and run nothing
                """));
        return c;
    }

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.println("kmem: missing command; try 'kmem help'");
            return USAGE;
        }
        String name = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (name.equals("help") || name.equals("--help") || name.equals("-h")) {
            return help(rest, out, err);
        }
        Command cmd = COMMANDS.get(name);
        if (cmd == null) {
            err.println("kmem: unknown command '" + name + "'; commands: " + String.join(", ", COMMANDS.keySet())
                    + ", help");
            return USAGE;
        }
        if (Arrays.asList(rest).contains("--help") || Arrays.asList(rest).contains("-h")) {
            out.println(cmd.help());
            return OK;
        }
        Args a;
        try {
            a = Args.parse(cmd, rest);
        } catch (IllegalArgumentException e) {
            return usage(cmd, e.getMessage(), err);
        }
        try {
            return switch (name) {
                case "tour" -> Tour.run(a.builder(), out);
                case "info" -> a.has("--pid") ? remoteInfo(a, out) : info(a, out);
                case "top" -> top(a, out);
                case "verify" -> verify(a, out);
                case "stress" -> stress(a, out);
                case "map" -> PoolMap.run(a, out, err);
                case "bench" -> Bench.run(a, out, err);
                default -> throw new IllegalStateException(name);
            };
        } catch (UsageException e) {
            return usage(cmd, e.getMessage(), err);
        } catch (Remote.RemoteException e) {
            err.println("kmem " + name + ": " + e.getMessage());
            return e.status;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return FAILED;
        } catch (KmemException e) {
            err.println("kmem " + name + ": " + e.getMessage());
            return FAILED;
        }
    }

    private static int usage(Command cmd, String message, PrintStream err) {
        err.println("kmem " + cmd.name() + ": " + message);
        err.println("usage: " + cmd.help().lines().findFirst().orElse("").strip() + "   (kmem help " + cmd.name()
                + " for more)");
        return USAGE;
    }

    private static int help(String[] rest, PrintStream out, PrintStream err) {
        if (rest.length > 1) {
            err.println("kmem help: one command at most, got " + rest.length + "; try 'kmem help'");
            return USAGE;
        }
        if (rest.length == 1) {
            Command c = COMMANDS.get(rest[0]);
            if (c == null) {
                err.println("kmem help: no command '" + rest[0] + "'; commands: " + String.join(", ",
                        COMMANDS.keySet()));
                return USAGE;
            }
            out.println(c.help());
            return OK;
        }
        out.println("kmem: the Linux kernel's memory allocators for Java drivers, over pinned physical frames\n");
        out.println("usage: kmem COMMAND [OPTIONS]    (kmem help COMMAND, or kmem COMMAND --help, for its options)\n");
        for (Command c : COMMANDS.values()) {
            out.printf(Locale.ROOT, "  %-8s %s%n", c.name(), c.summary());
        }
        out.printf(Locale.ROOT, "  %-8s %s%n%n", "help", "this text, or a command's");
        out.println("Exit status: 0 success; 1 the command found something wrong (a fault, a moved frame, a failed");
        out.println("system call); 2 a wrong command line, or a command that cannot run here.");
        out.println("Physical addresses need root (CAP_SYS_ADMIN for /proc/self/pagemap; mlock and hugepages too);");
        out.println("--unprivileged runs without them.");
        return OK;
    }

    private static int info(Args a, PrintStream out) {
        if (a.has("--pool")) {
            throw new UsageException("--pool names a pool of another JVM: give --pid too");
        }
        String workload = Workloads.check(a.string("--workload", "none"));
        try (MemoryPool pool = a.builder().build()) {
            Workloads.Held held = Workloads.run(workload, pool);
            if (!workload.equals("none")) {
                out.println("# workload '" + workload + "': " + held.summary() + "\n");
            }
            out.println("# pinning: " + pool.pinState().summary() + "\n");
            reports(pool.mxBean(), out);
        }
        return OK;
    }

    /** The /proc-style reports of one pool, here or in another JVM. */
    private static void reports(KmemPoolMXBean pool, PrintStream out) {
        out.print(pool.getMeminfo());
        out.println("\n# /proc/buddyinfo: free blocks of order 0..10 per zone");
        out.print(pool.getBuddyinfo());
        out.println("\n# zoneinfo: free frames, watermarks, managed frames, per-thread page caches");
        out.print(pool.getZoneinfo());
        out.println("\n# /proc/slabinfo");
        out.print(pool.getSlabinfo());
        out.println("\n# /proc/vmallocinfo (areas of the pool's vmalloc window; none until something is mapped)");
        out.print(pool.getVmallocinfo());
        out.println("\n# /proc/iomem (the host's resource tree as the pool sees it, with the pool's requests)");
        out.print(pool.getIomem());
    }

    private static long pid(Args a) {
        if (!a.has("--pid")) {
            throw new UsageException("--pid PID is required: the JVM whose pools to watch (jps -l lists them)");
        }
        return a.number("--pid", 0, 1, Long.MAX_VALUE);
    }

    private static int remoteInfo(Args a, PrintStream out) {
        for (String o : List.of("--mib", "--huge-mib", "--unprivileged", "--workload")) {
            if (a.has(o)) {
                throw new UsageException(o + " shapes a pool built here; with --pid the pools are the JVM's own");
            }
        }
        long pid = pid(a);
        try (Remote remote = Remote.attach(pid)) {
            List<Remote.Pool> pools = remote.pools(a.string("--pool", null));
            for (Remote.Pool p : pools) {
                out.println("# pool '" + p.name() + "' of JVM " + pid + " (" + remote.description() + ")\n");
                try {
                    reports(p.bean(), out);
                } catch (RuntimeException e) {
                    throw remote.gone(e);
                }
                out.println();
            }
        }
        return OK;
    }

    private static int top(Args a, PrintStream out) throws InterruptedException {
        long pid = pid(a);
        long delay = a.number("--delay", 3, 1, 3600);
        long iterations = a.number("--iterations", 0, 1, Long.MAX_VALUE);
        try (Remote remote = Remote.attach(pid)) {
            return Top.run(remote, a.string("--pool", null), delay * 1000, iterations, a.has("--batch"), pid, out);
        }
    }

    private static int verify(Args a, PrintStream out) {
        try (MemoryPool pool = a.builder().build()) {
            FrameVerification v = pool.verify();
            out.printf(Locale.ROOT, "verify: %d frames re-read from /proc/self/pagemap in %.1f ms: %s%n",
                    v.framesChecked(), v.nanos() / 1e6, v.ok() ? "all at their recorded PFN" : v.moved().size()
                            + " moved");
            v.moved().stream().limit(20).forEach(m -> out.println("  " + m));
            out.println("  " + pool.host().pinningNote());
            return v.ok() ? OK : FAILED;
        }
    }

    private static int stress(Args a, PrintStream out) {
        int threads = (int) a.number("--threads", 4, 1, 256);
        long ops = a.number("--ops", 2_000_000, 1, Long.MAX_VALUE);
        long seconds = a.number("--seconds", 10, 1, 7 * 24 * 3600);
        long seed = a.number("--seed", System.nanoTime() & 0xFFFF_FFFFL, Long.MIN_VALUE, Long.MAX_VALUE);
        String inject = a.has("--inject") ? a.string("--inject", null) : null;
        if (inject != null && !inject.equals("corrupt") && !inject.equals("leak")) {
            throw new UsageException("--inject expects 'corrupt' or 'leak', got '" + inject + "'");
        }
        long small = a.mib() > 0 ? a.mib() << 20 : 64L << 20;
        boolean strict = a.has("--strict");
        MemoryPool.Builder b = a.builder().maxSmallPages((strict ? 8 : 2) * small).allocWait(Duration.ofMillis(100));
        boolean tty = out == System.out && System.console() != null && System.console().isTerminal();
        return Stress.run(b, new Stress.Config(threads, ops, seconds * 1000, seed, inject, tty, strict), out);
    }

    /**
     * The tool's default pool on this host: 64 MiB of 4 KiB frames, growable to a quarter of
     * RAM, plus up to 64 MiB of 2 MiB hugetlb frames when the host has hugepages free.
     */
    static MemoryPool.Builder defaultBuilder() {
        HostInfo host = HostInfo.read();
        long small = 64L << 20;
        long huge = Math.min(64L << 20, host.freeHugepages2m() * (2L << 20));
        return MemoryPool.builder().name("default").smallPages(small).hugePages2m(huge)
                .maxSmallPages(Math.max(small, host.memTotalBytes() / 4 & -4096L));
    }

    /**
     * The soft {@code RLIMIT_MEMLOCK} of this process in bytes, as {@code /proc/self/limits}
     * shows it ("Max locked memory"); {@link Long#MAX_VALUE} when unlimited or unreadable.
     */
    static long memlockLimit() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max locked memory")) {
                    String soft = line.substring("Max locked memory".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return Long.MAX_VALUE;
        }
        return Long.MAX_VALUE;
    }

    /**
     * The default pool of an unprivileged run: 64 MiB, or half of what this process may mlock
     * when that is less (a user's RLIMIT_MEMLOCK is often 8 MiB), in 2 MiB steps, at least 2 MiB.
     */
    static long unprivilegedPoolBytes(long memlockLimit) {
        long half = memlockLimit / 2 & -(2L << 20);
        return Math.max(2L << 20, Math.min(64L << 20, half));
    }

    /** A command line that parsed but cannot be carried out: exit 2. */
    static final class UsageException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** A command's parsed options and arguments; getters check values and throw {@link UsageException}. */
    static final class Args {
        private final Map<String, String> options;
        private final List<String> positional;

        private Args(Map<String, String> options, List<String> positional) {
            this.options = options;
            this.positional = positional;
        }

        static Args parse(Command cmd, String[] args) {
            Map<String, String> options = new HashMap<>();
            List<String> positional = new ArrayList<>();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.startsWith("--")) {
                    String name = arg;
                    String value = null;
                    int eq = arg.indexOf('=');
                    if (eq > 0) {
                        name = arg.substring(0, eq);
                        value = arg.substring(eq + 1);
                    }
                    Boolean takesValue = cmd.options().get(name);
                    if (takesValue == null) {
                        throw new IllegalArgumentException("unknown option '" + name + "'" + (cmd.options().isEmpty()
                                ? "; it takes none" : "; options: " + String.join(", ", sorted(cmd.options().keySet()))));
                    }
                    if (takesValue && value == null) {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException(name + " needs a value");
                        }
                        value = args[++i];
                    } else if (!takesValue && value != null) {
                        throw new IllegalArgumentException(name + " takes no value");
                    }
                    if (options.put(name, takesValue ? value : "") != null) {
                        throw new IllegalArgumentException(name + " given twice");
                    }
                } else {
                    positional.add(arg);
                }
            }
            if (positional.size() > cmd.maxArgs()) {
                throw new IllegalArgumentException(cmd.maxArgs() == 0 ? "unexpected argument '" + positional.getFirst()
                        + "'" : "expected at most " + cmd.maxArgs() + " argument(s), got " + positional);
            }
            Args a = new Args(options, positional);
            if (options.containsKey("--mib")) {
                a.number("--mib", 0, 1, 1L << 20);
            }
            if (options.containsKey("--huge-mib") && a.number("--huge-mib", 0, 0, 1L << 20) % 2 != 0) {
                throw new IllegalArgumentException("--huge-mib expects a multiple of 2 (2 MiB pages), got "
                        + options.get("--huge-mib"));
            }
            return a;
        }

        private static List<String> sorted(Set<String> s) {
            return s.stream().sorted().toList();
        }

        boolean has(String name) {
            return options.containsKey(name);
        }

        String string(String name, String otherwise) {
            return options.getOrDefault(name, otherwise);
        }

        List<String> positional() {
            return positional;
        }

        long number(String name, long otherwise, long min, long max) {
            String v = options.get(name);
            if (v == null) {
                return otherwise;
            }
            long n;
            try {
                n = Long.decode(v.replace("_", ""));
            } catch (NumberFormatException e) {
                throw new UsageException(name + " expects a whole number, got '" + v + "'");
            }
            if (n < min || n > max) {
                throw new UsageException(name + " expects " + min + " to " + max + ", got " + n);
            }
            return n;
        }

        long mib() {
            return number("--mib", -1, 1, 1L << 20);
        }

        /** The pool these options ask for. */
        MemoryPool.Builder builder() {
            MemoryPool.Builder b = defaultBuilder();
            long mib = mib();
            boolean unprivileged = has("--unprivileged");
            if (mib > 0) {
                b.smallPages(mib << 20).maxSmallPages(Math.max(mib << 20, 64L << 20));
            } else if (unprivileged) {
                long bytes = unprivilegedPoolBytes(memlockLimit());
                b.smallPages(bytes).maxSmallPages(bytes);
            }
            if (has("--huge-mib")) {
                b.hugePages2m(number("--huge-mib", 0, 0, 1L << 20) << 20);
            } else if (unprivileged) {
                b.hugePages2m(0);
            }
            if (unprivileged) {
                b.unprivileged();
            }
            return b;
        }
    }
}
