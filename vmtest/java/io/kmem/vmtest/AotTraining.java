package io.kmem.vmtest;

import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.gfp.Gfp.GFP_KERNEL;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.error.KmemException;

/**
 * The training run for the guest's AOT cache: {@code tools/vm-test} runs it once on the host,
 * in the jlinked runtime the guest boots, with {@code -XX:AOTCacheOutput}, so that the
 * classes the drivers load while they bring up their first pool are already parsed and
 * linked when the guest starts. It does what every guest driver does first: build a pool of
 * 8 MiB of small pages with edu's 28-bit DMA mask (without the mask when the host has no
 * frame below 2^28 to give), then the first calls of each allocator. It needs no device, and
 * the guest never runs it.
 */
public final class AotTraining {
    private static final long MIB = 1 << 20;

    private AotTraining() {
    }

    public static void main(String[] args) {
        MemoryPool pool;
        try {
            pool = MemoryPool.builder().name("edu").smallPages(8 * MIB).dmaMask(DMA_BIT_MASK(Edu.DMA_BITS)).build();
        } catch (KmemException e) {
            pool = MemoryPool.builder().name("edu").smallPages(8 * MIB).build();
        }
        try (MemoryPool p = pool) {
            for (long size = 8; size <= 8192; size <<= 1) {
                p.kfree(p.kmalloc(size, GFP_KERNEL));
            }
            p.free_pages(p.__get_free_pages(GFP_KERNEL, 2), 2);
            p.vfree(p.vmalloc(64 * 1024));
            KmemCache c = p.kmem_cache_create("aot-training", 256, 64, 0, null);
            p.kmem_cache_free(c, p.kmem_cache_alloc(c, GFP_KERNEL));
            p.kmem_cache_destroy(c);
            System.out.println("kmem: AOT training: pool '" + p.name() + "' of " + p.frames() + " frames built and used");
        }
    }
}
