package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;

/**
 * The two processes {@code tools/cold-start} times: {@code hello} prints and exits (the
 * JVM's own start), {@code kmalloc} builds a fresh 16 MiB pool, makes the first
 * {@code kmalloc(64, GFP_KERNEL)} and exits (the pool left to the process's exit); it also
 * prints how long after {@code main} began the first kmalloc returned (the part of the start
 * that is kmem's: the JVM's own start to {@code main} is hello's). The kernel's record of the process's start
 * ({@code ProcessHandle.Info.startInstant}) is not used: it counts from the boot time in whole
 * seconds, off by up to a second.
 */
public final class ColdStart {
    private ColdStart() {
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("hello")) {
            System.out.println("hello");
            return;
        }
        if (args.length == 1 && args[0].equals("kmalloc")) {
            long t0 = System.nanoTime();
            // Left open: the process ends at its first kmalloc, as the target counts; its exit
            // gives the memfd, the mappings and the pinning ring back (closing takes 15-25 ms more).
            MemoryPool pool = MemoryPool.builder().name("cold-start").smallPages(16L << 20).build();
            long a = pool.kmalloc(64, Gfp.GFP_KERNEL);
            long t1 = System.nanoTime();
            System.out.println("first kmalloc returned");
            System.out.println((a != 0 ? "kmalloc(64) = 0x" + Long.toHexString(a) : "kmalloc(64) = NULL")
                    + ", " + (t1 - t0) / 1_000_000 + " ms after main began");
            return;
        }
        System.err.println("usage: ColdStart hello|kmalloc");
        System.exit(2);
    }
}
