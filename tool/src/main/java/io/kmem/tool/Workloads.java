package io.kmem.tool;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.stats.FrameOwners;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The workloads {@code kmem map} and {@code kmem info} run before they look at a pool. Each
 * leaves its allocations in place (closing the pool takes everything back) and is scaled to
 * the pool's size, so that a 1 GiB pool looks like a 64 MiB one, only finer.
 */
final class Workloads {
    static final List<String> NAMES = List.of("none", "mixed", "fragmented", "slab", "vmalloc");

    static final String HELP = """
              --workload NAME  what runs on the pool before it is shown (map: mixed by default; info: none)
                               none        the pool as built
                               mixed       kmalloc objects of every size class (a third freed again: partial
                                           slabs), a kmem_cache, page blocks of orders 0 to 10 (every other
                                           freed), large kmallocs, vmalloc areas and a few vmaps
                               fragmented  every order-0 page allocated, then every other one by PFN freed
                               slab        kmalloc only: every size class, a quarter freed
                               vmalloc     vmalloc areas of 4 KiB to 8 MiB up to half the pool""";

    /** What a workload left allocated, for the report's header. */
    record Held(String summary) {
    }

    private Workloads() {
    }

    /**
     * Returns {@code name} when it names a workload.
     *
     * @throws Main.UsageException otherwise
     */
    static String check(String name) {
        if (!NAMES.contains(name)) {
            throw new Main.UsageException("unknown workload '" + name + "'; workloads: " + String.join(", ", NAMES));
        }
        return name;
    }

    /**
     * Runs workload {@code name} on {@code pool}.
     *
     * @throws Main.UsageException for an unknown name
     */
    static Held run(String name, MemoryPool pool) {
        long scale = Math.max(1, pool.frames() / 16384);
        return switch (name) {
            case "none" -> new Held("nothing allocated");
            case "mixed" -> mixed(pool, scale);
            case "fragmented" -> fragmented(pool);
            case "slab" -> slab(pool, scale * 4, 4);
            case "vmalloc" -> vmalloc(pool);
            default -> throw new Main.UsageException("unknown workload '" + name + "'; workloads: "
                    + String.join(", ", NAMES));
        };
    }

    private static Held mixed(MemoryPool pool, long scale) {
        int gfp = GFP_KERNEL | __GFP_NOWARN;
        String slab = slab(pool, scale, 3).summary();
        KmemCache cache = pool.kmem_cache_create("map_demo", 200, 0, 0, null);
        long objs = 0;
        for (long i = 0; i < 1500 * scale; i++) {
            objs += pool.kmem_cache_alloc(cache, gfp) != 0 ? 1 : 0;
        }
        int[] counts = {200, 100, 60, 40, 20, 12, 8, 4, 2, 2, 1};
        long blocks = 0;
        long kept = 0;
        for (int order = 0; order <= MemoryPool.MAX_ORDER; order++) {
            List<Long> got = new ArrayList<>();
            for (long i = 0; i < counts[order] * scale; i++) {
                long a = pool.__get_free_pages(gfp, order);
                if (a != 0) {
                    got.add(a);
                }
            }
            blocks += got.size();
            for (int i = 0; i < got.size(); i++) {
                if (i % 2 == 1) {
                    pool.free_pages(got.get(i), order);
                } else {
                    kept++;
                }
            }
        }
        long large = 0;
        for (long size : new long[] {16 << 10, 100 << 10, 1 << 20}) {
            long n = (size == 16 << 10 ? 20 : size == 100 << 10 ? 5 : 2) * scale;
            for (long i = 0; i < n; i++) {
                large += pool.kmalloc(size, gfp) != 0 ? 1 : 0;
            }
        }
        long areas = 0;
        for (long size : new long[] {64 << 10, 1 << 20, 6 << 20}) {
            long n = (size == 64 << 10 ? 10 : size == 1 << 20 ? 3 : 1) * scale;
            for (long i = 0; i < n; i++) {
                areas += pool.vmalloc(size) != 0 ? 1 : 0;
            }
        }
        long vmaps = 0;
        long[] huge = hugetlbPfns(pool);
        for (long i = 0; i < 4 * scale; i++) {
            long[] pages = new long[8];
            int got = 0;
            for (int tries = 0; got < pages.length && tries < 64; tries++) {
                long p = pool.alloc_page(gfp);
                if (p != 0 && Arrays.binarySearch(huge, pool.page_to_pfn(p)) < 0) {
                    pages[got++] = p;
                }
            }
            vmaps += got == pages.length && pool.vmap(pages, pages.length) != 0 ? 1 : 0;
        }
        return new Held(String.format(Locale.ROOT, "%s; %d objects of kmem_cache map_demo; %d page blocks of orders 0"
                + " to 10 (%d kept, the others freed); %d large kmallocs; %d vmalloc areas; %d vmaps of 8 pages", slab,
                objs, blocks, kept, large, areas, vmaps));
    }

    /**
     * The PFNs of the pool's hugetlb frames, sorted. vmap maps a hugetlb page only whole, so
     * the pages given to it are chosen outside these.
     */
    static long[] hugetlbPfns(MemoryPool pool) {
        FrameOwners owners = pool.frameOwners();
        long[] huge = new long[owners.frames()];
        int n = 0;
        for (int i = 0; i < owners.frames(); i++) {
            if (owners.hugetlb(i)) {
                huge[n++] = owners.pfn(i);
            }
        }
        return Arrays.copyOf(huge, n);
    }

    /** kmalloc of every size class; one in {@code freeEvery} freed again, leaving partial slabs. */
    private static Held slab(MemoryPool pool, long scale, int freeEvery) {
        long[] sizes = {8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192};
        long[] counts = {2000, 1000, 1000, 3000, 500, 500, 800, 400, 400, 300, 150, 120, 60};
        long allocated = 0;
        long freed = 0;
        for (int s = 0; s < sizes.length; s++) {
            for (long i = 0; i < counts[s] * scale; i++) {
                long p = pool.kmalloc(sizes[s], GFP_KERNEL | __GFP_NOWARN);
                if (p == 0) {
                    continue;
                }
                allocated++;
                if (i % freeEvery == 0) {
                    pool.kfree(p);
                    freed++;
                }
            }
        }
        return new Held(String.format(Locale.ROOT, "%d kmallocs of 8 B to 8 KiB (%d freed again)", allocated, freed));
    }

    private static Held fragmented(MemoryPool pool) {
        List<Long> pages = new ArrayList<>();
        long p;
        while ((p = pool.alloc_page(GFP_ATOMIC | __GFP_NOWARN)) != 0) {
            pages.add(p);
        }
        pages.sort(Comparator.comparingLong(pool::page_to_pfn));
        long freed = 0;
        for (int i = 0; i < pages.size(); i += 2) {
            pool.__free_page(pages.get(i));
            freed++;
        }
        return new Held(String.format(Locale.ROOT, "%d pages allocated, every other one by PFN freed (%d)",
                pages.size(), freed));
    }

    private static Held vmalloc(MemoryPool pool) {
        SplittableRandom rnd = new SplittableRandom(7);
        long budget = pool.frames() * 4096 / 2;
        long used = 0;
        long areas = 0;
        while (used < budget) {
            long size = 4096L << rnd.nextInt(12);
            if (pool.vmalloc(size) == 0) {
                break;
            }
            used += size;
            areas++;
        }
        return new Held(String.format(Locale.ROOT, "%d vmalloc areas, %d MiB", areas, used >> 20));
    }
}
