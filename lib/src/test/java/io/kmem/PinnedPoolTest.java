package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.KmemException;
import io.kmem.stats.PinState;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** How a pool says it is pinned: pinState, meminfo, the fallback's warnings, requireLongTermPin. */
class PinnedPoolTest {
    private static final long MIB = 1L << 20;

    /** Collects what the pools log to "io.kmem" while {@code body} runs. */
    private static List<String> warnings(Runnable body) {
        List<String> seen = new ArrayList<>();
        Logger logger = Logger.getLogger("io.kmem");
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                seen.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(h);
        try {
            body.run();
        } finally {
            logger.removeHandler(h);
        }
        return seen;
    }

    private static long meminfoKb(String meminfo, String key) {
        Matcher m = Pattern.compile("(?m)^" + key + ":\\s+(\\d+) kB$").matcher(meminfo);
        assertTrue(m.find(), key + " in\n" + meminfo);
        return Long.parseLong(m.group(1));
    }

    @Test
    void meminfoSaysThePoolIsPinnedLongTermAndHowMuch() {
        try (MemoryPool pool = MemoryPool.builder().name("pinned").smallPages(16 * MIB).build()) {
            String meminfo = pool.meminfo();
            assertTrue(meminfo.contains("Pinning:         long-term\n  # FOLL_LONGTERM pins (io_uring buffer"
                    + " registration): the kernel cannot migrate the frames\n"), meminfo);
            assertEquals(meminfoKb(meminfo, "MemTotal"), meminfoKb(meminfo, "PinnedLongTerm"));
            PinState pin = pool.pinState();
            assertTrue(pin.longTerm());
            assertEquals(16 * MIB, pin.pinnedBytes());
        }
    }

    @Test
    void anMlockOnlyPoolWarnsOnceSaysSoInMeminfoAndWarnsOnceMoreWhenADeviceIsGivenAnAddress() {
        List<String> logged = warnings(() -> {
            try (MemoryPool pool = MemoryPool.builder().name("mlocked").smallPages(8 * MIB).maxSmallPages(64 * MIB)
                    .pinRefusal("EPERM").build()) {
                long big = pool.__get_free_pages(GFP_KERNEL, 0);
                long more = pool.__get_free_pages(GFP_KERNEL, 0);
                assertTrue(big != 0 && more != 0);
                String meminfo = pool.meminfo();
                assertTrue(meminfo.contains("Pinning:         mlock only\n  # io_uring is forbidden (io_uring_setup"
                        + " EPERM)"), meminfo);
                assertEquals(0, meminfoKb(meminfo, "PinnedLongTerm"));
                assertFalse(pool.pinState().longTerm());
                Device dev = new Device("d");
                assertEquals(0, pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64)));
                long dma = pool.dma_map_single(dev, big, 4096, DmaDirection.DMA_TO_DEVICE);
                pool.dma_unmap_single(dev, dma, 4096, DmaDirection.DMA_TO_DEVICE);
                long dma2 = pool.dma_map_single(dev, more, 4096, DmaDirection.DMA_TO_DEVICE);
                pool.dma_unmap_single(dev, dma2, 4096, DmaDirection.DMA_TO_DEVICE);
                pool.free_pages(big, 0);
                pool.free_pages(more, 0);
            }
        });
        List<String> fallback = logged.stream().filter(m -> m.contains("frames are mlocked only")).toList();
        assertEquals(1, fallback.size(), "one warning for the fallback: " + logged);
        assertTrue(fallback.get(0).startsWith("pool 'mlocked': frames are mlocked only, not pinned long-term: io_uring"
                + " is forbidden (io_uring_setup EPERM)") && fallback.get(0).contains("requireLongTermPin()"),
                fallback.get(0));
        List<String> dma = logged.stream().filter(m -> m.startsWith("dma_map_single: pool 'mlocked' is mlock only"))
                .toList();
        assertEquals(1, dma.size(), "one warning when the first address goes to a device: " + logged);
        assertTrue(dma.get(0).contains("can change under it"), dma.get(0));
    }

    @Test
    void requireLongTermPinMakesTheRefusalABuildError() {
        KmemException e = assertThrows(KmemException.class, () -> MemoryPool.builder().name("strict")
                .smallPages(8 * MIB).requireLongTermPin().pinRefusal("EPERM").build());
        assertTrue(e.getMessage().startsWith("grow: pool 'strict' requires a long-term pin (requireLongTermPin) and"
                + " cannot have one: io_uring is forbidden (io_uring_setup EPERM): kernel.io_uring_disabled is set"),
                e.getMessage());
        try (MemoryPool pool = MemoryPool.builder().name("strict").smallPages(8 * MIB).requireLongTermPin().build()) {
            assertTrue(pool.pinState().longTerm(), "on this host the pin is there: " + pool.pinState());
        }
    }
}
