package io.kmem.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.tool.MainTest.Result;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code kmem stress} as a test: a short run passes, and the faults it exists to find are
 * found: a stray write into a live object, and memory that is never freed.
 */
class StressTest {
    @Test
    void aShortStressOverEveryAllocatorPasses() {
        Result r = MainTest.run("stress", "--threads", "3", "--seconds", "3", "--mib", "32", "--seed", "7");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("PASS: no fault"), r.toString());
        for (String op : new String[] {"__get_free_pages", "alloc_pages", "alloc_pages_exact", "kmalloc", "krealloc",
                                       "kmem_cache_alloc", "vmalloc", "vmap", "kvmalloc"}) {
            Matcher m = Pattern.compile("\\n  " + Pattern.quote(op) + " / \\S+ +(\\d+) +\\d+ +(\\d+) +(\\d+)")
                    .matcher(r.out());
            assertTrue(m.find(), op + " has a line: " + r);
            assertTrue(Long.parseLong(m.group(1)) > 0, op + " was called: " + r);
        }
        Matcher cross = Pattern.compile("\\n  kmalloc / kfree +\\d+ +\\d+ +\\d+ +(\\d+)").matcher(r.out());
        assertTrue(cross.find() && Long.parseLong(cross.group(1)) > 0, "objects were freed by another thread: " + r);
        for (String check : new String[] {"checkPageAllocator", "validateSlabs", "checkVmalloc", "free frames =="}) {
            assertTrue(r.out().lines().anyMatch(l -> l.contains(check) && l.endsWith(" ok")), check + ": " + r);
        }
        assertTrue(r.out().contains("progress: "), "a progress line when the output is not a terminal: " + r);
    }

    @Test
    void aStrayWriteIntoALiveObjectIsFound() {
        Result r = MainTest.run("stress", "--threads", "2", "--seconds", "2", "--mib", "16", "--inject", "corrupt");
        assertEquals(1, r.status(), r.toString());
        Matcher injected = Pattern.compile("injected: flipped the byte at offset (\\d+) of .*object (#\\d+)")
                .matcher(r.out());
        assertTrue(injected.find(), r.toString());
        assertTrue(r.out().contains("FAIL: "), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.contains(injected.group(2))
                        && l.contains("contents differ at offset " + (Long.parseLong(injected.group(1)) & -8L))),
                "the fault names the object and the offset: " + r);
    }

    @Test
    void memoryNeverFreedUnbalancesTheCounters() {
        Result r = MainTest.run("stress", "--threads", "2", "--seconds", "2", "--mib", "16", "--inject", "leak");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.out().contains("injected: leaked kmalloc(64)"), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.contains("free frames == managed frames") && l.endsWith("FAULT")),
                r.toString());
        assertTrue(r.out().contains("frames unaccounted for"), r.toString());
    }
}
