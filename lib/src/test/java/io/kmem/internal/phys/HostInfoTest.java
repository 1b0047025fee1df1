package io.kmem.internal.phys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.stats.HostInfo;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class HostInfoTest {
    private static String cat(String file) throws Exception {
        Process p = new ProcessBuilder("cat", file).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        p.waitFor();
        return out;
    }

    @Test
    void sysctlsAreReadWhole() throws Exception {
        // Regression: proc_dointvec answers EOF at a non-zero offset; a chunked read saw "6" for 65530.
        HostInfo h = HostInfo.read();
        assertEquals(Long.parseLong(cat("/proc/sys/vm/max_map_count")), h.maxMapCount());
        assertEquals(Long.parseLong(cat("/proc/sys/vm/compact_unevictable_allowed")), h.compactUnevictable());
        assertEquals(Long.parseLong(cat("/proc/sys/vm/nr_hugepages")), h.hugepages2m());
    }

    @Test
    void zonesSpanTheHostsMemory() {
        HostInfo h = HostInfo.read();
        assertTrue(h.limitPfn() > h.minPfn());
        assertTrue((h.limitPfn() - h.minPfn()) * 4096 >= h.memTotalBytes(), "zone span covers MemTotal");
    }
}
