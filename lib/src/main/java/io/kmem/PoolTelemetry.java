package io.kmem;

import io.kmem.internal.trace.PoolUsage;
import io.kmem.stats.DmaStats;
import io.kmem.stats.KmemPoolMXBean;
import io.kmem.stats.LargeKmallocStats;
import io.kmem.stats.MisuseStats;
import io.kmem.stats.PageStats;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.VmallocStats;
import io.kmem.stats.ZoneStats;
import io.kmem.internal.dma.DmaDirect;
import java.util.List;
import java.util.Optional;

/**
 * A pool's telemetry: its {@link KmemPoolMXBean} (registered with the platform MBean server
 * when module {@code java.management} is in the runtime, see {@link PoolJmx}) and its share
 * of the periodic {@code io.kmem.PoolUsage} JFR event. Made by the pool at the end of its
 * bring-up, closed first at its close.
 */
final class PoolTelemetry implements KmemPoolMXBean, PoolUsage.Source {
    /** Whether this module reads java.management (a driver's jlinked image may leave it out). */
    private static final boolean JMX = jmxPresent();

    private final MemoryPool pool;
    /** The registration to undo at close; null when not registered. */
    private volatile AutoCloseable registration;

    private PoolTelemetry(MemoryPool pool) {
        this.pool = pool;
    }

    /** Registers the pool's MXBean (when JMX is present) and its JFR figures. */
    static PoolTelemetry start(MemoryPool pool) {
        PoolTelemetry t = new PoolTelemetry(pool);
        if (JMX) {
            t.registration = PoolJmx.register(pool.name(), t);
        }
        PoolUsage.add(t);
        return t;
    }

    /** Unregisters both; idempotent. */
    void close() {
        PoolUsage.remove(this);
        AutoCloseable r = registration;
        registration = null;
        if (r != null) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException("pool '" + pool.name() + "': unregistering its MXBean: " + e, e);
            }
        }
    }

    private static boolean jmxPresent() {
        Optional<Module> m = ModuleLayer.boot().findModule("java.management");
        return m.isPresent() && PoolTelemetry.class.getModule().canRead(m.get());
    }

    private void open(String attribute) {
        if (pool.phys.closed()) {
            throw new IllegalStateException("pool '" + pool.name() + "' is closed (reading " + attribute + ")");
        }
    }

    @Override
    public void emit(PoolUsage.Sink sink) {
        open("PoolUsage");
        long managed = 0;
        long free = 0;
        long cached = 0;
        for (ZoneStats z : pool.buddy.zoneStatsUnlocked()) {
            managed += z.managed();
            free += z.free();
            cached += z.cached();
        }
        sink.usage(pool.name(), managed, free, cached, pool.vmalloc.pagesMapped(), pool.buddy.stats().failures(),
                getMisuses().total());
    }

    @Override
    public String getName() {
        return pool.name();
    }

    @Override
    public boolean isPhysical() {
        return pool.physical();
    }

    @Override
    public long getFrames() {
        open("Frames");
        return pool.phys.presentFrames();
    }

    @Override
    public List<ZoneStats> getZones() {
        open("Zones");
        return pool.buddy.zoneStatsUnlocked();
    }

    @Override
    public PageStats getPageStats() {
        open("PageStats");
        return pool.buddy.stats();
    }

    @Override
    public List<SlabCacheStats> getSlabCaches() {
        open("SlabCaches");
        return pool.slab.stats();
    }

    @Override
    public LargeKmallocStats getLargeKmalloc() {
        open("LargeKmalloc");
        return pool.slab.largeStats();
    }

    @Override
    public VmallocStats getVmalloc() {
        open("Vmalloc");
        return pool.vmalloc.stats();
    }

    @Override
    public DmaStats getDma() {
        open("Dma");
        DmaDirect d = pool.dmaIfMade();
        return d == null ? new DmaStats(0, 0, 0, 0, 0) : new DmaStats(d.coherentCount(), d.streamingMaps(),
                d.streamingUnmaps(), d.mapErrors(), d.allocFailures());
    }

    @Override
    public MisuseStats getMisuses() {
        open("Misuses");
        return new MisuseStats(pool.buddy.misuses(), pool.slab.largeStats().misuses(), pool.vmalloc.misuses());
    }

    @Override
    public String getPinning() {
        open("Pinning");
        return pool.pinState().summary() + "; " + (pool.physical()
                ? "physical addresses (PFNs read from pagemap after the pin); "
                : "unprivileged: no physical addresses; ") + pool.phys.host().pinningNote();
    }

    @Override
    public String getMeminfo() {
        return pool.meminfo();
    }

    @Override
    public String getBuddyinfo() {
        return pool.buddyinfo();
    }

    @Override
    public String getZoneinfo() {
        return pool.zoneinfo();
    }

    @Override
    public String getSlabinfo() {
        return pool.slabinfo();
    }

    @Override
    public String getVmallocinfo() {
        return pool.vmallocinfo();
    }

    @Override
    public String getIomem() {
        return pool.iomem();
    }
}
