package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;

/**
 * The two processes {@code tools/cold-start} times: {@code hello} prints and exits (the
 * JVM's own start), {@code kmalloc} builds a fresh 16 MiB pool, makes the first
 * {@code kmalloc(64, GFP_KERNEL)}, frees it, closes the pool and exits; it also prints how long
 * after the process's start (as the kernel records it) the first kmalloc returned.
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
            try (MemoryPool pool = MemoryPool.builder().name("cold-start").smallPages(16L << 20).build()) {
                long a = pool.kmalloc(64, Gfp.GFP_KERNEL);
                long at = System.currentTimeMillis();
                pool.kfree(a);
                long start = ProcessHandle.current().info().startInstant().map(i -> i.toEpochMilli()).orElse(at);
                System.out.println((a != 0 ? "kmalloc(64) = 0x" + Long.toHexString(a) : "kmalloc(64) = NULL")
                        + ", " + (at - start) + " ms after the process started");
            }
            return;
        }
        System.err.println("usage: ColdStart hello|kmalloc");
        System.exit(2);
    }
}
