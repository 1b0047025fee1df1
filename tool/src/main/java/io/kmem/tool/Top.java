package io.kmem.tool;

import io.kmem.stats.DmaStats;
import io.kmem.stats.KmemPoolMXBean;
import io.kmem.stats.PageStats;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.VmallocStats;
import io.kmem.stats.ZoneStats;
import java.io.PrintStream;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * {@code kmem top}: another JVM's pools, redrawn in place every few seconds like
 * {@code top} and {@code slabtop}: a summary of each pool's frames and counters, then its slab
 * caches by size in slabtop's columns. Figures come from the pools' MXBeans ({@link Remote}).
 */
final class Top {
    /** Home the cursor and clear the screen (ANSI), as top does before each frame. */
    static final String CLEAR = "\033[H\033[2J";

    private Top() {
    }

    static int run(Remote remote, String pool, long delayMillis, long iterations, boolean batch, long pid,
                   PrintStream out) throws InterruptedException {
        for (long i = 0; iterations <= 0 || i < iterations; i++) {
            if (i > 0) {
                Thread.sleep(delayMillis);
            }
            List<Remote.Pool> pools = remote.pools(pool);
            StringBuilder frame = new StringBuilder(batch ? (i > 0 ? "\n" : "") : CLEAR);
            frame.append(String.format(Locale.ROOT, "kmem top - %s  JVM %d (%s): %d pool%s, every %.1f s%n",
                    LocalTime.now().truncatedTo(ChronoUnit.SECONDS), pid, remote.description(), pools.size(),
                    pools.size() == 1 ? "" : "s", delayMillis / 1000.0));
            for (Remote.Pool p : pools) {
                try {
                    draw(p.name(), p.bean(), frame);
                } catch (RuntimeException e) {
                    throw remote.gone(e);
                }
            }
            out.print(frame);
            out.flush();
        }
        return Main.OK;
    }

    /** One pool's part of a frame. */
    static void draw(String name, KmemPoolMXBean bean, StringBuilder sb) {
        long managed = 0;
        long free = 0;
        long cached = 0;
        for (ZoneStats z : bean.getZones()) {
            managed += z.managed();
            free += z.free();
            cached += z.cached();
        }
        PageStats ps = bean.getPageStats();
        VmallocStats vm = bean.getVmalloc();
        DmaStats dma = bean.getDma();
        List<SlabCacheStats> caches = bean.getSlabCaches();
        sb.append(String.format(Locale.ROOT, "%nPool '%s' (%s): frames %s, free %s, cached %s, used %s%n", name,
                bean.isPhysical() ? "physical" : "unprivileged", mib(managed), mib(free), mib(cached),
                mib(managed - free - cached)));
        sb.append(String.format(Locale.ROOT, " Pages: %d failures, %d growths, %d waits   vmalloc: %d areas, %d pages"
                + "   DMA: %d coherent, %d streaming   misuses: %d%n", ps.failures(), ps.growths(), ps.waits(),
                vm.areas(), vm.pagesMapped(), dma.coherentBuffers(), dma.streamingMaps() - dma.streamingUnmaps(),
                bean.getMisuses().total()));
        long objs = 0;
        long active = 0;
        long slabs = 0;
        long activeSlabs = 0;
        long bytes = 0;
        long activeBytes = 0;
        for (SlabCacheStats c : caches) {
            objs += c.numObjs();
            active += c.activeObjs();
            slabs += c.numSlabs();
            activeSlabs += c.activeSlabs();
            bytes += c.numSlabs() * c.pagesPerSlab() * 4096L;
            activeBytes += c.activeObjs() * c.size();
        }
        sb.append(String.format(Locale.ROOT, " Active / Total Objects (%% used)    : %d / %d (%.1f%%)%n", active, objs,
                pct(active, objs)));
        sb.append(String.format(Locale.ROOT, " Active / Total Slabs (%% used)      : %d / %d (%.1f%%)%n", activeSlabs,
                slabs, pct(activeSlabs, slabs)));
        sb.append(String.format(Locale.ROOT, " Active / Total Caches (%% used)     : %d / %d (%.1f%%)%n",
                caches.stream().filter(c -> c.activeObjs() > 0).count(), caches.size(),
                pct(caches.stream().filter(c -> c.activeObjs() > 0).count(), caches.size())));
        sb.append(String.format(Locale.ROOT, " Active / Total Size (%% used)       : %.2fK / %.2fK (%.1f%%)%n%n",
                activeBytes / 1024.0, bytes / 1024.0, pct(activeBytes, bytes)));
        sb.append("  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n");
        caches.stream().sorted(Comparator.comparingLong((SlabCacheStats c) -> c.numSlabs() * c.pagesPerSlab())
                .reversed().thenComparing(SlabCacheStats::name)).forEach(c -> sb.append(String.format(Locale.ROOT,
                "%6d %6d %3.0f%% %7.2fK %6d %8d %9dK %s%n", c.numObjs(), c.activeObjs(), pct(c.activeObjs(),
                c.numObjs()), c.size() / 1024.0, c.numSlabs(), c.objectsPerSlab(), c.numSlabs() * c.pagesPerSlab() * 4,
                c.name())));
    }

    private static double pct(long part, long whole) {
        return whole == 0 ? 0 : 100.0 * part / whole;
    }

    private static String mib(long frames) {
        return String.format(Locale.ROOT, "%.1f MiB", frames / 256.0);
    }
}
