package io.kmem.tool;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;

/**
 * The driver {@link RemoteTest} watches, in a JVM of its own: with argument {@code pool} it
 * holds a pool "held" with a cache "remote_obj" of 25 live 300-byte objects; with
 * {@code none}, no pool at all. Prints "ready" and waits until its standard input closes.
 */
public final class PoolHolder {
    private PoolHolder() {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("none")) {
            System.out.println("ready");
            System.in.read();
            return;
        }
        try (MemoryPool pool = MemoryPool.builder().name("held").smallPages(8L << 20).unprivileged().build()) {
            KmemCache cache = pool.kmem_cache_create("remote_obj", 300, 8, 0, null);
            long[] objs = new long[25];
            for (int i = 0; i < objs.length; i++) {
                objs[i] = pool.kmem_cache_alloc(cache, Gfp.GFP_KERNEL);
            }
            System.out.println("ready");
            System.in.read();
            for (long o : objs) {
                pool.kmem_cache_free(cache, o);
            }
            pool.kmem_cache_destroy(cache);
        }
    }
}
