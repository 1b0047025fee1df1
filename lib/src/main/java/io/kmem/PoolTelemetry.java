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
import io.kmem.internal.lib.LazyLogger;
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

    private static final System.Logger LOG = LazyLogger.of("io.kmem");

    private final MemoryPool pool;
    /** The registration to undo at close; null when not registered (yet). Guarded by this. */
    private AutoCloseable registration;
    /** Set by {@link #close}; a registration finishing after it is undone at once. Guarded by this. */
    private boolean closed;
    /** The thread registering the MXBean when the platform server was not up; else null. */
    private volatile Thread registering;

    private PoolTelemetry(MemoryPool pool) {
        this.pool = pool;
    }

    /**
     * Registers the pool's JFR figures, and its MXBean when JMX is present: at once when the
     * process's platform MBean server is up, else from a daemon thread. The server's first
     * start loads about 470 classes (a fifth of a pool's bring-up) that a driver restarting
     * should not wait for before its first allocation; the MXBean then appears a moment after
     * {@code build()} returns ({@link #awaitRegistration}).
     */
    static PoolTelemetry start(MemoryPool pool) {
        PoolTelemetry t = new PoolTelemetry(pool);
        if (JMX) {
            if (PoolJmx.serverUp()) {
                t.register();
            } else {
                PoolJmx.startingInBackground();
                t.registering = Thread.ofPlatform().daemon().name("kmem-jmx " + pool.name()).start(t::registerQuietly);
            }
        }
        PoolUsage.add(t);
        return t;
    }

    private void register() {
        AutoCloseable r = PoolJmx.register(pool.name(), this);
        synchronized (this) {
            if (!closed) {
                registration = r;
                return;
            }
        }
        unregister(r); // the pool closed while its MXBean was being registered
    }

    private void registerQuietly() {
        try {
            register();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "pool '" + pool.name() + "': its MXBean is not registered: " + e, e);
        }
    }

    /**
     * Waits until the MXBean is registered (or its registration failed, which is logged);
     * returns at once when it was registered in {@link #start}.
     */
    void awaitRegistration() throws InterruptedException {
        Thread t = registering;
        if (t != null) {
            t.join();
        }
    }

    /** Unregisters both; idempotent. */
    void close() {
        PoolUsage.remove(this);
        AutoCloseable r;
        synchronized (this) {
            closed = true;
            r = registration;
            registration = null;
        }
        if (r != null) {
            unregister(r);
        }
    }

    private void unregister(AutoCloseable r) {
        try {
            r.close();
        } catch (Exception e) {
            throw new IllegalStateException("pool '" + pool.name() + "': unregistering its MXBean: " + e, e);
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
