package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.gfp.Gfp;
import io.kmem.stats.KmemPoolMXBean;
import io.kmem.stats.ZoneStats;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pool's telemetry: its platform MXBean, read as a JMX client without kmem's classes
 * would read it (CompositeData), and the periodic {@code io.kmem.PoolUsage} JFR event.
 */
class TelemetryTest {
    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

    private static MemoryPool pool(String name) {
        return MemoryPool.builder().name(name).smallPages(4L << 20).unprivileged().build();
    }

    @Test
    void eachOpenPoolIsAnMXBeanWithItsFiguresAsOpenTypes() throws Exception {
        ObjectName name = new ObjectName("io.kmem:type=MemoryPool,name=telemetry-mx");
        KmemCache cache;
        try (MemoryPool pool = pool("telemetry-mx")) {
            assertTrue(SERVER.isRegistered(name), "registered at build: " + SERVER.queryNames(
                    new ObjectName("io.kmem:*"), null));
            cache = pool.kmem_cache_create("telemetry_obj", 200, 8, 0, null);
            long[] objs = new long[30];
            for (int i = 0; i < objs.length; i++) {
                objs[i] = pool.kmem_cache_alloc(cache, Gfp.GFP_KERNEL);
            }
            long page = pool.__get_free_pages(Gfp.GFP_KERNEL, 3);

            assertEquals("telemetry-mx", SERVER.getAttribute(name, "Name"));
            assertEquals(false, SERVER.getAttribute(name, "Physical"));
            CompositeData[] caches = (CompositeData[]) SERVER.getAttribute(name, "SlabCaches");
            CompositeData ours = Arrays.stream(caches).filter(c -> c.get("name").equals("telemetry_obj")).findFirst()
                    .orElseThrow(() -> new AssertionError("no telemetry_obj among " + Arrays.toString(caches)));
            assertEquals(30L, ours.get("activeObjs"));
            assertEquals(200, ours.get("objectSize"));
            CompositeData[] zones = (CompositeData[]) SERVER.getAttribute(name, "Zones");
            long managed = 0;
            long free = 0;
            for (CompositeData z : zones) {
                managed += (Long) z.get("managed");
                free += (Long) z.get("free") + (Long) z.get("cached");
                assertTrue(z.get("zone") instanceof String, "an enum is a string to JMX: " + z);
            }
            assertEquals(1024L, managed, "4 MiB of 4 KiB frames");
            assertTrue(free <= managed - 8, "the order-3 block is not free: " + free);
            assertTrue(((String) SERVER.getAttribute(name, "Slabinfo")).contains("telemetry_obj"));
            assertTrue(((String) SERVER.getAttribute(name, "Meminfo")).contains("MemTotal"));
            String pinning = (String) SERVER.getAttribute(name, "Pinning");
            assertTrue(pinning.startsWith(pool.pinState().summary()), pinning);

            pool.free_pages(page, 3);
            try {
                pool.free_pages(page, 3);
            } catch (RuntimeException expected) {
                // the double free is the misuse counted below
            }
            CompositeData misuses = (CompositeData) SERVER.getAttribute(name, "Misuses");
            assertEquals(1L, misuses.get("pageAllocator"));

            KmemPoolMXBean proxy = JMX.newMXBeanProxy(SERVER, name, KmemPoolMXBean.class);
            List<ZoneStats> typed = proxy.getZones();
            assertEquals(zones.length, typed.size(), "a client with kmem's classes gets the records back");
            assertEquals(pool.mxBean().getSlabCaches().size(), proxy.getSlabCaches().size());
            for (long o : objs) {
                pool.kmem_cache_free(cache, o);
            }
            pool.kmem_cache_destroy(cache);
        }
        assertFalse(SERVER.isRegistered(name), "unregistered at close");
    }

    @Test
    void aSecondOpenPoolOfTheSameNameIsNumbered() throws Exception {
        try (MemoryPool a = pool("telemetry-twin"); MemoryPool b = pool("telemetry-twin")) {
            assertTrue(SERVER.isRegistered(new ObjectName("io.kmem:type=MemoryPool,name=telemetry-twin")));
            assertTrue(SERVER.isRegistered(new ObjectName("io.kmem:type=MemoryPool,name=telemetry-twin#2")));
        }
        assertEquals(0, SERVER.queryNames(new ObjectName("io.kmem:type=MemoryPool,name=telemetry-twin*"), null)
                .size());
    }

    @Test
    void aRecordingShowsThePoolsUsageOverTime(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("usage.jfr");
        try (MemoryPool pool = pool("telemetry-jfr"); Recording r = new Recording()) {
            r.enable("io.kmem.PoolUsage").withPeriod(Duration.ofMillis(100));
            r.start();
            long p = pool.__get_free_pages(Gfp.GFP_KERNEL, 4);
            Thread.sleep(600);
            r.stop();
            r.dump(file);
            pool.free_pages(p, 4);
        }
        List<RecordedEvent> usage = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals("io.kmem.PoolUsage")
                        && "telemetry-jfr".equals(e.getString("pool")))
                .toList();
        assertTrue(usage.size() >= 2, "a period of 100 ms over 600 ms: " + usage.size() + " events");
        RecordedEvent last = usage.getLast();
        assertEquals(4L << 20, last.getLong("managedBytes"));
        assertTrue(last.getLong("usedBytes") >= 16 * 4096, "the order-4 block is in use: " + last);
        assertTrue(Files.size(file) > 0);
    }
}
